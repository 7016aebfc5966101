package assess

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// naiveStatistics computes the 19 statistics straight from SP 800-90B
// Section 5.1 as NIST's tool reads it, one simple loop per statistic, as a
// reference for the fused passes (compression excepted: bzip2 is checked on
// its own).
func naiveStatistics(d *Data, mean, median float64) [permStats]float64 {
	var t [permStats]float64
	s, raw := d.Symbols, d.Raw
	binary := d.K == 2
	// Excursion, on the raw samples.
	sum := 0.0
	for i, x := range raw {
		sum += float64(x)
		t[statExcursion] = max(t[statExcursion], math.Abs(math.FMA(-float64(i+1), mean, sum)))
	}
	// Conversions I and II.
	var cs1, cs2 []byte
	for i := 0; i < len(s); i += 8 {
		var ones, packed byte
		for j := 0; j < 8 && i+j < len(s); j++ {
			ones += s[i+j]
			packed |= s[i+j] << (7 - j)
		}
		cs1, cs2 = append(cs1, ones), append(cs2, packed)
	}
	dir, col, per, cov := s, s, s, raw
	if binary {
		dir, col, per, cov = cs1, cs2, cs1, cs1
	}
	// Directional runs.
	var alt []int
	for i := 0; i+1 < len(dir); i++ {
		if dir[i] > dir[i+1] {
			alt = append(alt, -1)
		} else {
			alt = append(alt, 1)
		}
	}
	runs := func(a []int) (n, longest float64) {
		if len(a) == 0 {
			return 0, 1
		}
		n, run := 1, 1
		longest = 1
		for i := 1; i < len(a); i++ {
			if a[i] == a[i-1] {
				run++
			} else {
				n++
				run = 1
			}
			longest = max(longest, float64(run))
		}
		return float64(n), longest
	}
	t[statNumDirectionalRuns], t[statLenDirectionalRuns] = runs(alt)
	ups := 0
	for _, a := range alt {
		if a == 1 {
			ups++
		}
	}
	t[statNumIncreasesDecreases] = float64(max(ups, len(alt)-ups))
	// Runs based on the median.
	var med []int
	for _, x := range s {
		if float64(x) < median {
			med = append(med, -1)
		} else {
			med = append(med, 1)
		}
	}
	t[statNumRunsMedian], t[statLenRunsMedian] = runs(med)
	// Collisions.
	var lens []int
	for i := 0; i < len(col); {
		seen := map[byte]bool{}
		j := i
		for ; j < len(col) && !seen[col[j]]; j++ {
			seen[col[j]] = true
		}
		if j == len(col) {
			break
		}
		lens = append(lens, j-i+1)
		i = j + 1
	}
	total := 0
	for _, l := range lens {
		total += l
	}
	t[statAvgCollision] = float64(total) / float64(len(lens))
	t[statMaxCollision] = float64(slices.Max(append(lens, 0)))
	// Periodicity and covariance.
	for j, p := range permLags {
		eq, prod := 0, 0
		for i := 0; i+p < len(per); i++ {
			if per[i] == per[i+p] {
				eq++
			}
			prod += int(cov[i]) * int(cov[i+p])
		}
		t[statPeriodicity+j], t[statCovariance+j] = float64(eq), float64(prod)
	}
	return t
}

// TestStatisticsMatchNaive compares the fused statistics passes with
// naiveStatistics on sequences of many shapes: binary and not, symbols that
// are and are not their raw values, lengths that are and are not multiples
// of 8, constant stretches.
func TestStatisticsMatchNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var inputs [][]byte
	for _, n := range []int{2, 3, 9, 33, 40, 41, 100, 1001, 5000} {
		for _, k := range []int{2, 3, 16, 200, 256} {
			inputs = append(inputs, randomSamples(n, k, uint64(n*k)))
		}
		b := randomSamples(n, 2, uint64(n))
		for i := range b {
			b[i] = b[i]*5 + 3 // binary, raw values 3 and 8
		}
		inputs = append(inputs, b)
		w := make([]byte, n)
		for i := range w {
			w[i] = byte(i/7%3 + rng.IntN(2)*100)
		}
		inputs = append(inputs, w)
	}
	var w permScratch
	for _, raw := range inputs {
		d, err := Prepare(raw, 0)
		if err != nil {
			continue
		}
		checkStatistics(t, d, &w)
	}
}

func checkStatistics(t *testing.T, d *Data, w *permScratch) {
	t.Helper()
	mean, median := meanMedian(d)
	src := newPermSource(d, mean, median)
	want := naiveStatistics(d, mean, median)
	var all [permStats]bool
	for i := range statCompression {
		all[i] = true
	}
	var got [permStats]float64
	src.statistics(d.Symbols, &all, &got, w)
	for i := range statCompression {
		if math.IsNaN(want[i]) {
			assert.True(t, math.IsNaN(got[i]), "n=%d k=%d %s = %v, naive NaN", len(d.Symbols), d.K, permStatName(i), got[i])
			continue
		}
		assert.Equal(t, want[i], got[i], "n=%d k=%d %s", len(d.Symbols), d.K, permStatName(i))
	}
}

// TestRotationSorterMatchesNaive checks the rotation order against
// comparisons of the rotations, on random, periodic and constant texts.
func TestRotationSorterMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	texts := [][]byte{{5}, {1, 1}, []byte("banana"), []byte("abababab"), make([]byte, 100), []byte("mississippi")}
	for _, n := range []int{2, 17, 300, 5000} {
		for _, k := range []int{2, 3, 11, 256} {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.IntN(k))
			}
			texts = append(texts, b)
		}
	}
	var r rotationSorter
	for _, text := range texts {
		n := len(text)
		rot := func(i int) []byte { return append(slices.Clone(text[i:]), text[:i]...) }
		got := make([]int32, n)
		r.sort(text, got)
		seen := make([]bool, n)
		for i, p := range got {
			require.False(t, seen[p], "n=%d: position %d twice", n, p)
			seen[p] = true
			if i > 0 {
				require.LessOrEqual(t, slices.Compare(rot(int(got[i-1])), rot(int(p))), 0, "n=%d: rotations %d, %d out of order", n, got[i-1], p)
			}
		}
	}
}

// TestLongestRepeatW checks the W the LRS test uses on small cases against
// brute force.
func TestLongestRepeatW(t *testing.T) {
	for _, s := range [][]byte{[]byte("banana"), []byte("abcd"), []byte("aaab"), randomSamples(500, 3, 1), randomSamples(300, 256, 2)} {
		want := 0
		for i := range s {
			for j := i + 1; j < len(s); j++ {
				l := 0
				for j+l < len(s) && s[i+l] == s[j+l] {
					l++
				}
				want = max(want, l)
			}
		}
		assert.Equal(t, want, LongestRepeatedSubstringTest(s, 256).W, "longestRepeat(%q...), brute force", s[:min(len(s), 8)])
	}
}

// TestGammaQ checks the chi-square p-value function against closed forms:
// Q(1, x) = e^-x and Q(1/2, x) = erfc(√x).
func TestGammaQ(t *testing.T) {
	for _, x := range []float64{0.01, 0.5, 1, 2.5, 10, 50} {
		want := math.Exp(-x)
		assert.InDelta(t, want, gammaQ(1, x), 1e-14*want+1e-300, "Q(1, %v)", x)
		want = math.Erfc(math.Sqrt(x))
		assert.InDelta(t, want, gammaQ(0.5, x), 1e-13*want+1e-300, "Q(1/2, %v)", x)
	}
	assert.Equal(t, 1.0, gammaQ(3, 0), "Q(3, 0) at the domain edge")
	assert.Equal(t, 1.0, gammaQ(0, 3), "Q(0, 3) at the domain edge")
}

// FuzzIIDStatistics runs the IID computations on arbitrary samples: the
// fused statistics must equal the naive ones, and the chi-square and LRS
// tests and a two-shuffle IID run must not panic and must give sane values.
func FuzzIIDStatistics(f *testing.F) {
	f.Add([]byte{1, 2, 3, 1, 2, 3, 200})
	f.Add([]byte{0, 1, 1, 0, 1, 0, 0, 0, 1, 1})
	f.Add(randomSamples(64, 256, 3))
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := Prepare(raw, 0)
		if err != nil || len(d.Symbols) < 2 {
			return
		}
		var w permScratch
		checkStatistics(t, d, &w)
		cs := ChiSquare(d.Symbols, d.K)
		// NaN is allowed: too few samples for expected counts (as the tool).
		// (testify's order assertions fail on NaN.)
		for _, p := range []float64{cs.IndependenceP, cs.GoodnessP} {
			if !math.IsNaN(p) {
				assert.GreaterOrEqual(t, p, 0.0, "p-values %v %v", cs.IndependenceP, cs.GoodnessP)
				assert.LessOrEqual(t, p, 1.0, "p-values %v %v", cs.IndependenceP, cs.GoodnessP)
			}
		}
		lrs := LongestRepeatedSubstringTest(d.Symbols, d.K)
		assert.GreaterOrEqual(t, lrs.W, 0, "LRS %+v", lrs)
		assert.Less(t, lrs.W, len(d.Symbols), "LRS %+v", lrs)
		assert.Positive(t, lrs.PCol, "LRS %+v", lrs)
		assert.LessOrEqual(t, lrs.PCol, 1.0, "LRS %+v", lrs)
		seed := [32]byte{1}
		r, err := IID(d, IIDOptions{Shuffles: 2, Seed: &seed, Workers: 1})
		assert.NoError(t, err, "IID")
		assert.LessOrEqual(t, r.Permutation.Shuffles, 2, "IID: shuffles")
		assert.GreaterOrEqual(t, r.HAssessed, 0.0, "IID: H")
		assert.LessOrEqual(t, r.HAssessed, float64(d.Bits), "IID: H")
	})
}

// benchmarkStatistics times one statistics pass over the first MinSamples
// samples of a reference file, with or without the compression statistic
// (computed only until it is decided, typically for the first ~50 shuffles).
func benchmarkStatistics(b *testing.B, name string, compression bool) {
	ref := loadIIDReference(b, name)
	d := ref.prepare(b)
	mean, median := meanMedian(d)
	src := newPermSource(d, mean, median)
	var want [permStats]bool
	for i := range want {
		want[i] = compression || i != statCompression
	}
	var w permScratch
	var t [permStats]float64
	src.statistics(d.Symbols, &want, &t, &w)
	b.SetBytes(int64(len(d.Symbols)))
	b.ReportAllocs()
	for b.Loop() {
		src.statistics(d.Symbols, &want, &t, &w)
	}
}

func BenchmarkStatistics8bit(b *testing.B)            { benchmarkStatistics(b, "truerand_8bit", false) }
func BenchmarkStatistics1bit(b *testing.B)            { benchmarkStatistics(b, "truerand_1bit", false) }
func BenchmarkStatistics8bitCompression(b *testing.B) { benchmarkStatistics(b, "truerand_8bit", true) }
func BenchmarkStatistics1bitCompression(b *testing.B) { benchmarkStatistics(b, "truerand_1bit", true) }

// BenchmarkShuffle times one Fisher–Yates shuffle of 1,000,000 samples.
func BenchmarkShuffle(b *testing.B) {
	d := mustPrepare(b, randomSamples(MinSamples, 256, 1))
	r := permRun{src: &permSource{symbols: d.Symbols}}
	w := permWorker{buf: make([]byte, MinSamples), rng: rand.NewChaCha8([32]byte{})}
	b.SetBytes(MinSamples)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.shuffle(&w, i)
		i++
	}
}
