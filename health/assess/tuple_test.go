package assess

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTTuple compares the t-Tuple estimate of every sample file, on the
// bitstring and on the literal samples, with the tool's t, p-hat_max, p_u
// and estimate (verbose text) and its JSON.
func TestTTuple(t *testing.T) {
	n := 0
	for _, c := range ptLoad(t) {
		t.Run(c.name, func(t *testing.T) {
			for _, seq := range c.sequences() {
				got, _ := TupleEstimates(seq.s, seq.k)
				pre := seq.label + " t-Tuple Estimate: "
				require.Equal(t, "T-Tuple Test", got.Name, seq.label)
				require.Equal(t, "6.3.5", got.Section, seq.label)
				require.True(t, got.Ran(), "%s: skipped: %s", seq.label, got.Skipped)
				assert.Equal(t, c.int(t, pre+"t"), got.T, "%st", pre)
				ptCheck(t, pre+"p-hat_max", got.PMax, c.float(t, pre+"p-hat_max"))
				ptCheck(t, pre+"p_u", got.PU, c.float(t, pre+"p_u"))
				ptCheck(t, pre+"min entropy", got.MinEntropy, c.float(t, pre+"min entropy"))
				key := "tTupleRes"
				if seq.label == "Bitstring" {
					key = "binTTupleRes"
				}
				ptCheck(t, "JSON "+key, got.MinEntropy, c.json["T-Tuple Test"][key])
				n++
			}
		})
	}
	t.Logf("%d t-Tuple estimates agree with the tool", n)
}

// naiveTupleCounts counts every i-tuple of s directly.
func naiveTupleCounts(s []byte) (q []int64, pairs []uint64) {
	q, pairs = []int64{0}, []uint64{0}
	for i := 1; ; i++ {
		counts := map[string]int64{}
		for j := 0; j+i <= len(s); j++ {
			counts[string(s[j:j+i])]++
		}
		var m int64
		var p uint64
		for _, c := range counts {
			m = max(m, c)
			p += uint64(c * (c - 1) / 2)
		}
		if m < 2 {
			return q, pairs
		}
		q, pairs = append(q, m), append(pairs, p)
	}
}

// TestCountTuples checks the LCP-interval tuple counts against direct
// counting, for every length up to the longest repeat.
func TestCountTuples(t *testing.T) {
	for _, in := range suffixInputs() {
		s, k := in[0].([]byte), in[1].(int)
		if len(s) > 1000 {
			continue
		}
		c := countTuples(s, k)
		q, pairs := naiveTupleCounts(s)
		require.Equal(t, len(q)-1, c.v, "%v: v", s)
		for i := 1; i <= c.v; i++ {
			require.Equal(t, q[i], c.q[i], "%v: length %d: max count", s, i)
			require.Equal(t, pairs[i], c.pairs[i], "%v: length %d: pairs", s, i)
		}
	}
}

func TestTupleEstimatesSkipped(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    []byte
		k    int
		tt   bool // t-Tuple skipped
		lrs  bool // LRS skipped
	}{
		{"empty", nil, 2, true, true},
		{"k=1", []byte{0, 0, 0}, 1, true, true},
		{"symbol out of range", []byte{0, 1, 2}, 2, true, true},
		{"no repeat", []byte{0, 1}, 2, true, true},
		{"few repeats", []byte{0, 1, 0, 1, 1}, 2, true, false},
		{"runs", make([]byte, 100), 2, false, true}, // u = 66 > v = 99? no: see below
	} {
		got, l := TupleEstimates(tc.s, tc.k)
		if tc.name == "runs" {
			// 100 zeros: i-tuples occur 101-i times, so u = 67 and v = 99.
			assert.Equal(t, 66, got.T, "runs: t")
			assert.Equal(t, 67, l.U, "runs: u")
			assert.Equal(t, 99, l.V, "runs: v")
			assert.True(t, got.Ran(), "runs: t-Tuple skipped: %v", got.Estimate)
			assert.True(t, l.Ran(), "runs: LRS skipped: %v", l.Estimate)
			continue
		}
		assert.Equal(t, !tc.tt, got.Ran(), "%s: t-Tuple ran: %+v", tc.name, got.Estimate)
		assert.Equal(t, !tc.lrs, l.Ran(), "%s: LRS ran: %+v", tc.name, l.Estimate)
	}
	// The exported one-sided helpers agree with the combined call.
	rng := rand.New(rand.NewPCG(3, 4))
	s := make([]byte, 5000)
	for i := range s {
		s[i] = byte(rng.IntN(4))
	}
	tt, l := TupleEstimates(s, 4)
	assert.Equal(t, tt, TTuple(s, 4), "TTuple differs from TupleEstimates")
	assert.Equal(t, l, LRS(s, 4), "LRS differs from TupleEstimates")
}

// ptBench returns 1,000,000 uniformly random 8-bit samples (alphabet 256)
// and their 8,000,000-bit bitstring, the sizes the tool's timings refer to.
func ptBench(b *testing.B) (samples, bitstring []byte) {
	b.Helper()
	rng := rand.New(rand.NewPCG(5, 6))
	samples = make([]byte, MinSamples)
	for i := range samples {
		samples[i] = byte(rng.Uint32())
	}
	bitstring = make([]byte, 0, 8*len(samples))
	for _, x := range samples {
		for j := 7; j >= 0; j-- {
			bitstring = append(bitstring, x>>j&1)
		}
	}
	return samples, bitstring
}

// ptRun benchmarks f on the literal samples and on the bitstring.
func ptRun(b *testing.B, f func(s []byte, k int)) {
	samples, bits := ptBench(b)
	b.Run("literal8bit", func(b *testing.B) {
		b.SetBytes(int64(len(samples)))
		for b.Loop() {
			f(samples, 256)
		}
	})
	b.Run("bitstring", func(b *testing.B) {
		b.SetBytes(int64(len(bits)))
		for b.Loop() {
			f(bits, 2)
		}
	})
}

func BenchmarkTupleEstimates(b *testing.B) {
	ptRun(b, func(s []byte, k int) { TupleEstimates(s, k) })
}

func BenchmarkSuffixArray(b *testing.B) {
	ptRun(b, func(s []byte, k int) { suffixArray(s, k) })
}

// FuzzTupleEstimates checks the tuple counts against direct counting and
// that the estimates never panic on any input.
func FuzzTupleEstimates(f *testing.F) {
	f.Add([]byte("abracadabra"), 256)
	f.Add([]byte{0, 1, 1, 0, 1, 1, 0, 1, 1, 0}, 2)
	f.Fuzz(func(t *testing.T, s []byte, k int) {
		if len(s) > 300 {
			s = s[:300]
		}
		tt, l := TupleEstimates(s, k)
		for _, e := range []Estimate{tt.Estimate, l.Estimate} {
			if e.Ran() {
				require.GreaterOrEqual(t, e.MinEntropy, 0.0, "%+v", e)
				require.Positive(t, e.P, "%+v", e)
				require.LessOrEqual(t, e.P, 1.0, "%+v", e)
			}
		}
		if len(s) < 2 {
			return
		}
		c := countTuples(s, 256)
		q, pairs := naiveTupleCounts(s)
		require.Equal(t, len(q)-1, c.v, "v")
		for i := 1; i <= c.v; i++ {
			require.Equal(t, q[i], c.q[i], "length %d: max count", i)
			require.Equal(t, pairs[i], c.pairs[i], "length %d: pairs", i)
		}
	})
}
