package assess

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLag compares the Lag estimate of every sample file, on the bitstring
// and on the literal samples, with the tool's C, N, r, P_global, P_global',
// P_local and estimate (verbose text) and its JSON.
func TestLag(t *testing.T) {
	n := 0
	for _, c := range ptLoad(t) {
		t.Run(c.name, func(t *testing.T) {
			for _, seq := range c.sequences() {
				got := Lag(seq.s, seq.k)
				require.Equal(t, "Lag Prediction Test", got.Name, seq.label)
				require.Equal(t, "6.3.8", got.Section, seq.label)
				require.True(t, got.Ran(), "%s: skipped: %s", seq.label, got.Skipped)
				ptCheckPrediction(t, c, seq.label, "Lag", got)
				ptCheckJSON(t, c, seq.label, got.Estimate)
				n++
			}
		})
	}
	t.Logf("%d Lag estimates agree with the tool", n)
}

// TestLagBinary checks the blockwise binary path against following every
// lag step by step, on random, biased, constant and periodic stretches.
func TestLagBinary(t *testing.T) {
	for seed, p1 := range []float64{0.5, 0.3, 0.9, 0.99} {
		for _, n := range []int{3, 100, 129, 130, 200, 193, 257, 60000} {
			s := ptRandomBits(uint64(seed), n, p1)
			c1, l1 := lagBinary(s)
			c2, l2 := lagSymbols(s)
			assert.Equal(t, c2, c1, "p1 = %g, n = %d: binary C, general C", p1, n)
			assert.Equal(t, l2, l1, "p1 = %g, n = %d: binary run, general run", p1, n)
		}
	}
}

func TestLagSkipped(t *testing.T) {
	r := Lag([]byte{0, 1}, 2)
	assert.False(t, r.Ran(), "2 symbols: %+v, want skipped", r.Estimate)
	r = Lag([]byte{0, 1, 2}, 2)
	assert.False(t, r.Ran(), "symbol 2 with k = 2: %+v, want skipped", r.Estimate)
}

func BenchmarkLag(b *testing.B) {
	ptRun(b, func(s []byte, k int) { Lag(s, k) })
}

// FuzzLag checks the blockwise binary path against the step-by-step one
// and that Lag never panics on any input.
func FuzzLag(f *testing.F) {
	f.Add([]byte{0, 1, 1, 0, 1, 0, 0, 0, 1}, 2)
	f.Add(ptRandomBits(1, 400, 0.5), 2)
	f.Add([]byte{0, 1, 2, 3, 2, 1, 0}, 4)
	f.Fuzz(func(t *testing.T, s []byte, k int) {
		r := Lag(s, k)
		if r.Ran() {
			require.GreaterOrEqual(t, r.MinEntropy, 0.0, "Lag = %+v", r)
			require.LessOrEqual(t, r.C, r.N, "Lag = %+v", r)
		}
		bits := make([]byte, len(s)*8)
		for i, x := range s {
			for j := range 8 {
				bits[8*i+j] = x >> j & 1
			}
		}
		if len(bits) >= 3 {
			c1, l1 := lagBinary(bits)
			c2, l2 := lagSymbols(bits)
			require.Equal(t, c2, c1, "binary C, general C")
			require.Equal(t, l2, l1, "binary run, general run")
		}
	})
}
