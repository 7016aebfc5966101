package assess

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bitShuffleP is the p-value below which a chi-square test of the shuffles
// fails: with the tests below making at most 20 such checks, a correct
// shuffle fails one with probability below 1e-6 whatever the seeds. The
// seeds are fixed, so a run cannot fail by chance on one machine and not on
// another.
const bitShuffleP = 5e-8

// TestBernoulliOfExact checks that every k ≤ 8 and m < 2^k give exactly m
// ones over all 2^k values of the random bits of a lane: the probability of
// a one is m/2^k when the words are uniform.
func TestBernoulliOfExact(t *testing.T) {
	for k := uint(1); k <= bitShuffleMaxK; k++ {
		lanes := max(64, 1<<k) // every value of V_j, 64/2^k times when 2^k < 64
		for m := uint(0); m < 1<<k; m++ {
			ones := 0
			for base := 0; base < lanes; base += 64 {
				r := make([]uint64, k)
				for j := range 64 {
					u := uint64(base+j) % (1 << k)
					for i := range r {
						r[i] |= (u >> i & 1) << j
					}
				}
				ones += bits.OnesCount64(bernoulliOf(m, r))
			}
			require.Equal(t, int(m)*lanes>>k, ones, "k=%d m=%d", k, m)
		}
	}
}

// TestBitShuffleUniform draws shuffles of small binary sequences through
// the run's seeding, every setting of step 1 (step 2 alone, q = 1/2, odd
// multiples of 2^-k, q above 1/2, the less common symbol 0 or 1, lengths not
// multiples of 8), and checks that every one of the C(n, c) sequences with
// c ones comes out, nothing else, and each equally often by a chi-square
// test.
func TestBitShuffleUniform(t *testing.T) {
	for _, tc := range []struct {
		n, ones int
		m, k    uint
	}{
		{6, 2, 0, 0},
		{6, 2, 1, 1},
		{9, 4, 3, 3},
		{9, 5, 1, 1}, // the less common symbol is 0
		{10, 7, 5, 3},
		{8, 1, 1, 3},
		{11, 3, 3, 2}, // q = 3/4 for a 3/11 symbol: much of step 2
		{12, 6, 0, 0},
		{13, 6, 13, 5},
		{5, 4, 0, 0},
	} {
		s := make([]byte, tc.n)
		for i := range tc.ones {
			s[i] = 1
		}
		b := newBitShuffle(s)
		require.Equal(t, tc.ones, b.ones)
		b.m, b.k = tc.m, tc.k
		cells := binomial(tc.n, tc.ones)
		draws := 300 * cells
		counts := make(map[uint16]int)
		r := permRun{seed: [32]byte{byte(tc.n), byte(tc.ones), byte(tc.m), byte(tc.k)}}
		w := permWorker{rng: rand.NewChaCha8(r.seed)}
		for i := range draws {
			r.seedShuffle(&w, i)
			p := b.shuffle(&w)
			require.Len(t, p, (tc.n+7)/8)
			key := uint16(p[0]) << 8
			if len(p) > 1 {
				key |= uint16(p[1])
			}
			require.Zero(t, key&(1<<(16-tc.n)-1), "bits past the end set: %016b", key)
			require.Equal(t, tc.ones, bits.OnesCount16(key), "%016b", key)
			counts[key]++
		}
		assert.Len(t, counts, cells, "n=%d ones=%d: distinct sequences", tc.n, tc.ones)
		want := float64(draws) / float64(cells)
		chi2 := 0.0
		for _, c := range counts {
			chi2 += (float64(c) - want) * (float64(c) - want) / want
		}
		chi2 += float64(cells-len(counts)) * want
		p := gammaQ(float64(cells-1)/2, chi2/2)
		assert.Greater(t, p, bitShuffleP, "n=%d ones=%d m=%d k=%d: chi-square %v, %d cells", tc.n, tc.ones, tc.m, tc.k, chi2, cells)
	}
}

// TestBitShufflePositions checks long sequences, with step 1 as the cost
// estimate chooses it for each proportion of ones: every shuffle keeps the
// count of ones and clears the bits past the end, and over many shuffles
// each position holds a one equally often, by a chi-square test on the
// positions' counts (n(n-1)/... scaled for the fixed total).
func TestBitShufflePositions(t *testing.T) {
	const n, draws = 1003, 4000
	for _, ones := range []int{1, 17, 250, 401, 501, 602, 990, n - 1} {
		s := make([]byte, n)
		for i := range ones {
			s[(i*7)%n] = 1
		}
		b := newBitShuffle(s)
		r := permRun{seed: [32]byte{byte(ones), byte(ones >> 8)}}
		w := permWorker{rng: rand.NewChaCha8(r.seed), buf: make([]byte, n)}
		counts := make([]int, n)
		for i := range draws {
			r.seedShuffle(&w, i)
			p := b.shuffle(&w)
			u := b.unpack(w.buf, p)
			got := 0
			for j, x := range u {
				counts[j] += int(x)
				got += int(x)
			}
			require.Equal(t, ones, got, "ones=%d shuffle %d", ones, i)
			require.Zero(t, p[len(p)-1]&(1<<(8-n%8)-1), "bits past the end")
		}
		// Each count is hypergeometric-like with variance D·q·(1-q),
		// q = ones/n, and the counts sum to D·ones: (n-1)/n of the sum of
		// squared standardized deviations is chi-square with n-1 degrees.
		q := float64(ones) / n
		chi2 := 0.0
		for _, c := range counts {
			d := float64(c) - draws*q
			chi2 += d * d / (draws * q * (1 - q))
		}
		chi2 *= float64(n-1) / n
		pv := gammaQ(float64(n-1)/2, chi2/2)
		assert.Greater(t, pv, bitShuffleP, "ones=%d (m=%d k=%d): chi-square %v", ones, b.m, b.k, chi2)
		assert.Less(t, pv, 1-bitShuffleP, "ones=%d (m=%d k=%d): chi-square %v too good", ones, b.m, b.k, chi2)
	}
}

// TestPackedStatisticsMatch checks the statistics on packed binary samples
// against those on the symbols, and the naive ones, for lengths on and off
// a multiple of 8.
func TestPackedStatisticsMatch(t *testing.T) {
	for _, n := range []int{2, 7, 8, 9, 64, 100, 1001, 5000} {
		for seed := range uint64(3) {
			d := mustPrepare(t, randomSamples(n, 2, seed+uint64(n)))
			if d.K != 2 {
				continue
			}
			mean, median := meanMedian(d)
			src := newPermSource(d, mean, median)
			var all [permStats]bool
			for i := range all {
				all[i] = true
			}
			var want [permStats]float64
			src.statistics(d.Symbols, &all, &want, &permScratch{})
			naive := naiveStatistics(d, mean, median)
			b := newBitShuffle(d.Symbols)
			packed := make([]byte, (n+7)/8)
			for i, x := range d.Symbols {
				packed[i/8] |= x << (7 - i%8)
			}
			w := permWorker{buf: make([]byte, n)}
			src.packedStatistics(b, packed, &all, &w)
			require.Equal(t, d.Symbols, w.buf, "n=%d: unpacked", n)
			for i := range permStats {
				assert.True(t, sameStat(want[i], w.t[i]), "n=%d %s: packed %v, symbols %v", n, permStatName(i), w.t[i], want[i])
				if i != statCompression {
					assert.True(t, sameStat(naive[i], w.t[i]), "n=%d %s: packed %v, naive %v", n, permStatName(i), w.t[i], naive[i])
				}
			}
		}
	}
}

func sameStat(a, b float64) bool {
	return a == b || math.IsNaN(a) && math.IsNaN(b)
}

func binomial(n, k int) int {
	c := 1
	for i := range k {
		c = c * (n - i) / (i + 1)
	}
	return c
}

// TestBitShuffleReproducible checks that a seeded run on binary data (the
// packed shuffles) gives the same counts whatever the number of workers, and
// another seed other counts.
func TestBitShuffleReproducible(t *testing.T) {
	raw := randomSamples(10000, 10, 9)
	for i, x := range raw {
		raw[i] = byte(b2i(x < 3))
	}
	d := mustPrepare(t, raw)
	require.Equal(t, 2, d.K)
	run := func(seed byte, workers int) PermutationResult {
		s := [32]byte{seed}
		r, err := IID(d, IIDOptions{Shuffles: 200, Seed: &s, Workers: workers})
		require.NoError(t, err)
		return r.Permutation
	}
	a := run(1, 1)
	assert.Equal(t, a, run(1, 3), "same seed, 1 and 3 workers")
	assert.NotEqual(t, a, run(2, 2), "seeds 1 and 2")
}

// BenchmarkBitShuffle times one packed shuffle of 1,000,000 binary samples,
// 60% ones (as S2 of the restart reference sets), beside BenchmarkShuffle's
// Fisher–Yates.
func BenchmarkBitShuffle(b *testing.B) {
	s := make([]byte, MinSamples)
	for i := range s {
		s[i] = byte(b2i(i%5 < 3))
	}
	bs := newBitShuffle(s)
	r := permRun{}
	w := permWorker{rng: rand.NewChaCha8([32]byte{})}
	b.SetBytes(MinSamples)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.seedShuffle(&w, i)
		bs.shuffle(&w)
		i++
	}
}
