package health

import (
	"math"
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestPublishedCutoffs checks the cutoffs SP 800-90B and Go's
// crypto/internal/entropy publish for alpha = 2^-20.
func TestPublishedCutoffs(t *testing.T) {
	const alpha = 0x1p-20
	for _, tc := range []struct {
		h      float64
		window int
		rct    int
		apt    int
	}{
		{h: 0.5, window: 512, rct: 41, apt: 410},
		{h: 1, window: 512, rct: 21, apt: 311},
		{h: 1, window: 1024, rct: 21, apt: 589},
	} {
		assert.Equal(t, tc.rct, RCTCutoff(tc.h, alpha), "RCTCutoff(%g, 2^-20)", tc.h)
		assert.Equal(t, tc.apt, APTCutoff(tc.h, alpha, tc.window), "APTCutoff(%g, 2^-20, %d)", tc.h, tc.window)
	}
}

// TestRCTCutoffExact checks RCTCutoff against exact rational arithmetic:
// for alpha = 2^-a and h = num/den, -log2(alpha)/h = a·den/num.
func TestRCTCutoffExact(t *testing.T) {
	for _, a := range []int{1, 8, 20, 30, 60, 64, 128} {
		for _, h := range [][2]int{{1, 10}, {1, 4}, {1, 2}, {3, 10}, {1, 1}, {3, 2}, {7, 1}, {8, 1}} {
			q := new(big.Rat).SetFrac64(int64(a*h[1]), int64(h[0]))
			// ceil(q) for q > 0.
			c := new(big.Int).Quo(q.Num(), q.Denom())
			if !q.IsInt() {
				c.Add(c, big.NewInt(1))
			}
			want := 1 + int(c.Int64())
			hf := float64(h[0]) / float64(h[1])
			assert.Equal(t, want, RCTCutoff(hf, math.Ldexp(1, -a)), "RCTCutoff(%g, 2^-%d)", hf, a)
		}
	}
}

// TestAPTCutoffBigFloat recomputes 1 + CRITBINOM(W, 2^-h, 1-alpha) by an
// independent method: the binomial tail summed with 256-bit big.Float
// arithmetic from exact binomial coefficients, p = 2^-h taken exactly for
// integer h and as square roots for h = 1/2 and 1/4 (2^-1/2, 2^-1/4).
func TestAPTCutoffBigFloat(t *testing.T) {
	const prec = 256
	sqrtHalf := new(big.Float).SetPrec(prec).Sqrt(big.NewFloat(0.5).SetPrec(prec))
	pOf := map[float64]*big.Float{
		0.25: new(big.Float).SetPrec(prec).Sqrt(sqrtHalf),
		0.5:  sqrtHalf,
	}
	for _, h := range []float64{1, 2, 3, 4, 6, 8} {
		pOf[h] = new(big.Float).SetPrec(prec).SetMantExp(big.NewFloat(1), -int(h))
	}
	for h, p := range pOf {
		for _, w := range []int{16, 512, 1024} {
			for _, a := range []int{8, 20, 30, 40, 60, 64, 128} {
				assert.Equal(t, critBinomBig(w, p, a, prec), APTCutoff(h, math.Ldexp(1, -a), w), "APTCutoff(%g, 2^-%d, %d) against big.Float", h, a, w)
			}
		}
	}
}

// critBinomBig returns the smallest c with P[Binomial(w, p) ≥ c] ≤ 2^-a,
// summing the tail from k = w down in big.Float arithmetic, each term from
// the one above: P[X = k-1] = P[X = k] · k/(w-k+1) · (1-p)/p.
func critBinomBig(w int, p *big.Float, a int, prec uint) int {
	alpha := new(big.Float).SetPrec(prec).SetMantExp(big.NewFloat(1), -a)
	q := new(big.Float).SetPrec(prec).Sub(big.NewFloat(1), p)
	ratio := new(big.Float).SetPrec(prec).Quo(q, p)
	term := pow(p, w, prec) // P[X = w]
	tail := new(big.Float).SetPrec(prec)
	for c := w; c >= 0; c-- {
		tail.Add(tail, term)
		if tail.Cmp(alpha) > 0 {
			return c + 1
		}
		term.Mul(term, ratio)
		term.Mul(term, new(big.Float).SetPrec(prec).SetInt64(int64(c)))
		term.Quo(term, new(big.Float).SetPrec(prec).SetInt64(int64(w-c+1)))
	}
	return 0
}

func pow(x *big.Float, n int, prec uint) *big.Float {
	r := new(big.Float).SetPrec(prec).SetInt64(1)
	b := new(big.Float).SetPrec(prec).Set(x)
	for ; n > 0; n >>= 1 {
		if n&1 == 1 {
			r.Mul(r, b)
		}
		b.Mul(b, b)
	}
	return r
}

// TestCutoffInvalid checks that invalid arguments give 0, a cutoff every
// sample fails.
func TestCutoffInvalid(t *testing.T) {
	for _, tc := range []struct{ h, alpha float64 }{
		{0, 0x1p-20}, {-1, 0x1p-20}, {math.NaN(), 0x1p-20}, {math.Inf(1), 0x1p-20},
		{1, 0}, {1, 1}, {1, -0.5}, {1, math.NaN()},
	} {
		assert.Equal(t, 0, RCTCutoff(tc.h, tc.alpha), "RCTCutoff(%g, %g)", tc.h, tc.alpha)
		assert.Equal(t, 0, APTCutoff(tc.h, tc.alpha, 512), "APTCutoff(%g, %g, 512)", tc.h, tc.alpha)
	}
	assert.Equal(t, 0, APTCutoff(1, 0x1p-20, 0), "APTCutoff(1, 2^-20, 0)")
	// A claim so low that even W equal samples are likelier than alpha.
	assert.Equal(t, 1025, APTCutoff(0.01, 0x1p-60, 1024), "APTCutoff(0.01, 2^-60, 1024): want unreachable")
}
