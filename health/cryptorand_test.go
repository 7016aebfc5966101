package health

import (
	"crypto/rand"
	"math"
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCryptoRand feeds 1 GiB (128 MiB under -race) of crypto/rand output, one stream, to three
// Testers claiming H = 8 and counts their failures against the number an
// ideal source produces:
//
//   - DefaultHSMConfig (alpha 2^-64): none expected (2^30 samples × 2^-64).
//   - the defaults (alpha 2^-30; RCT cutoff 5, APT cutoff 16): about 0.25
//     expected; more than 10 has probability below 1e-12 (failures come in
//     clusters of one run or one window, clusters are Poisson with mean
//     ≤ 0.26, P[≥ 10 clusters] ≈ 0.26^10/10! ≈ 4e-13).
//   - a sensitive config (alpha 2^-16; RCT cutoff 3, APT cutoff 11), where
//     thousands are expected: the count must lie within 10 standard
//     deviations of the expectation on either side. Each count is a sum of
//     about 2^30 (RCT) or 2^21 (APT, windows are independent) nearly
//     independent terms, close to normal: a 10σ deviation has probability
//     below 1e-20, yet an off-by-one in a cutoff or in the counting moves
//     the RCT count by a factor 256 and the APT count several-fold.
//
// None may fail permanently. Expectations are exact for independent uniform
// bytes: the RCT fails at every sample that ends a run of C or more,
// (N-C+1)·256^-(C-1) in all; the APT fails at every sample counted in B
// once B ≥ C, E[(B-C+1)+] per window with B = 1 + Binomial(W-1, 1/256).
func TestCryptoRand(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the 1 GiB crypto/rand test in -short mode")
	}
	n := 1 << 30
	if raceEnabled {
		// The race detector instruments every load of the RCT's scan; a
		// 1 GiB pass would take about 40 s.
		n = 1 << 27
		t.Logf("race detector on: testing %d MiB instead of 1 GiB; run without -race for the full test", n>>20)
	}
	type run struct {
		name      string
		cfg       Config
		tr        *Tester
		rct, apt  int64
		twoSided  bool
		maxEvents int64
	}
	runs := []*run{
		{name: "hsm", cfg: DefaultHSMConfig(), maxEvents: 0},
		{name: "default", cfg: Config{MinEntropy: 8}, maxEvents: 10},
		{name: "sensitive", cfg: Config{MinEntropy: 8, IntermittentAlpha: 0x1p-16, PermanentAlpha: 0x1p-40}, twoSided: true},
	}
	for _, r := range runs {
		r.tr = newTester(t, r.cfg)
	}
	buf := make([]byte, 1<<20)
	for range n / len(buf) {
		rand.Read(buf)
		for _, r := range runs {
			for p := buf; len(p) > 0; {
				k, err := r.tr.Write(p)
				p = p[k:]
				if err == nil {
					continue
				}
				var f *Failure
				require.ErrorAs(t, err, &f, r.name)
				require.NotEqual(t, Permanent, f.Kind, "%s: %v", r.name, err)
				if f.Test == RCT {
					r.rct++
				} else {
					r.apt++
				}
			}
		}
	}
	for _, r := range runs {
		s := r.tr.Stats()
		assert.Equal(t, int64(n), s.Samples, "%s: Stats().Samples", r.name)
		assert.Equal(t, r.rct, s.RCT.Intermittent, "%s: Stats() disagrees with the RCT failures seen", r.name)
		assert.Equal(t, r.apt, s.APT.Intermittent, "%s: Stats() disagrees with the APT failures seen", r.name)
		w := r.tr.Config().Window
		rctMean, rctVar := rctEvents(n, s.RCT.Cutoff)
		aptMean, aptVar := aptEvents(w, s.APT.Cutoff)
		windows := float64(n / w)
		aptMean, aptVar = aptMean*windows, aptVar*windows
		t.Logf("%s: RCT %d failures (expected %.4g), APT %d (expected %.4g); max run %d/%d, max window count %d/%d",
			r.name, r.rct, rctMean, r.apt, aptMean, s.RCT.Max, s.RCT.Cutoff, s.APT.Max, s.APT.Cutoff)
		if !r.twoSided {
			assert.LessOrEqual(t, r.rct+r.apt, r.maxEvents, "%s: intermittent failures, expected %.3g", r.name, rctMean+aptMean)
			continue
		}
		assert.InDelta(t, rctMean, float64(r.rct), 10*math.Sqrt(rctVar), "%s: RCT failures, expected %.1f ± %.1f", r.name, rctMean, math.Sqrt(rctVar))
		assert.InDelta(t, aptMean, float64(r.apt), 10*math.Sqrt(aptVar), "%s: APT failures, expected %.1f ± %.1f", r.name, aptMean, math.Sqrt(aptVar))
	}
}

// rctEvents returns the expected number of RCT failures in n uniform bytes
// with cutoff c, and a variance bound: each run of length L ≥ c gives L-c+1
// failures, so the count is a sum of clusters whose size is geometric with
// ratio 1/256; the variance of the total is the mean times E[size²]/E[size]
// ≤ (1+q)/(1-q) with q = 1/256.
func rctEvents(n, c int) (mean, variance float64) {
	q := 1.0 / 256
	mean = float64(n-c+1) * math.Pow(q, float64(c-1))
	return mean, mean * (1 + q) / (1 - q)
}

// aptEvents returns the mean and variance of the number of APT failures in
// one window of w uniform bytes with cutoff c: (B-c+1)+ with
// B = 1 + Binomial(w-1, 1/256), summed exactly in big.Float.
func aptEvents(w, c int) (mean, variance float64) {
	const prec = 200
	p := new(big.Float).SetPrec(prec).Quo(big.NewFloat(1), big.NewFloat(256))
	q := new(big.Float).SetPrec(prec).Sub(big.NewFloat(1), p)
	m, m2 := new(big.Float).SetPrec(prec), new(big.Float).SetPrec(prec)
	for y := c - 1; y <= w-1; y++ {
		pr := new(big.Float).SetPrec(prec).SetInt(new(big.Int).Binomial(int64(w-1), int64(y)))
		pr.Mul(pr, pow(p, y, prec))
		pr.Mul(pr, pow(q, w-1-y, prec))
		e := float64(1 + y - c + 1)
		m.Add(m, new(big.Float).Mul(pr, big.NewFloat(e)))
		m2.Add(m2, new(big.Float).Mul(pr, big.NewFloat(e*e)))
	}
	mean, _ = m.Float64()
	ex2, _ := m2.Float64()
	return mean, ex2 - mean*mean
}
