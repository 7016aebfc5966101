package assess

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMultiMCW compares the MultiMCW estimate of every sample file, on the
// bitstring and on the literal samples, with the tool's C, N, r, P_global,
// P_global', P_local and estimate (verbose text) and its JSON.
func TestMultiMCW(t *testing.T) {
	n := 0
	for _, c := range ptLoad(t) {
		t.Run(c.name, func(t *testing.T) {
			for _, seq := range c.sequences() {
				got := MultiMCW(seq.s, seq.k)
				require.Equal(t, "Multi Most Common in Window Test", got.Name, seq.label)
				require.Equal(t, "6.3.7", got.Section, seq.label)
				require.True(t, got.Ran(), "%s: skipped: %s", seq.label, got.Skipped)
				ptCheckPrediction(t, c, seq.label, "MultiMCW", got)
				ptCheckJSON(t, c, seq.label, got.Estimate)
				n++
			}
		})
	}
	t.Logf("%d MultiMCW estimates agree with the tool", n)
}

// ptCheckJSON compares an estimate with the tool's JSON: hBitstring for the
// bitstring, hOriginal for the literal samples.
func ptCheckJSON(t *testing.T, c *ptCase, label string, e Estimate) {
	t.Helper()
	key := "hOriginal"
	if label == "Bitstring" {
		key = "hBitstring"
	}
	want, ok := c.json[e.Name][key]
	require.True(t, ok, "%s: JSON %q has no %s", c.name, e.Name, key)
	ptCheck(t, "JSON "+e.Name+" "+key, e.MinEntropy, want)
}

// ptRandomBits returns n bits, each 1 with probability p1, and runs of
// constant and periodic bits, to cross-check binary fast paths.
func ptRandomBits(seed uint64, n int, p1 float64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	s := make([]byte, n)
	for i := range s {
		if rng.Float64() < p1 {
			s[i] = 1
		}
		switch {
		case i%5000 > 4800: // a constant run
			s[i] = 1
		case i%7000 > 6700: // a periodic stretch
			s[i] = byte(i / 3 % 2)
		}
	}
	return s
}

// TestMultiMCWBinary checks the binary fast path against the general one.
func TestMultiMCWBinary(t *testing.T) {
	for seed, p1 := range []float64{0.5, 0.3, 0.9, 0.99} {
		s := ptRandomBits(uint64(seed), 60000, p1)
		c1, l1 := mcwBinary(s)
		c2, l2 := mcwSymbols(s, 2)
		assert.Equal(t, c2, c1, "p1 = %g: binary C, general C", p1)
		assert.Equal(t, l2, l1, "p1 = %g: binary run, general run", p1)
	}
}

func TestMultiMCWSkipped(t *testing.T) {
	r := MultiMCW(make([]byte, 4095), 2)
	assert.False(t, r.Ran(), "4095 symbols: %+v, want skipped", r.Estimate)
	r = MultiMCW(make([]byte, 4096), 1)
	assert.False(t, r.Ran(), "k = 1: %+v, want skipped", r.Estimate)
	s := ptRandomBits(9, 4096, 0.5)
	r = MultiMCW(s, 2)
	assert.True(t, r.Ran(), "4096 symbols: skipped: %s", r.Skipped)
	assert.Equal(t, 4096-63, r.N, "4096 symbols: N")
}

func BenchmarkMultiMCW(b *testing.B) {
	ptRun(b, func(s []byte, k int) { MultiMCW(s, k) })
}

// FuzzMultiMCW checks the binary path against the general one and that
// MultiMCW never panics on any input.
func FuzzMultiMCW(f *testing.F) {
	f.Add(ptRandomBits(2, 600, 0.5), 2)
	f.Add([]byte{0, 1, 2, 3, 2, 1, 0}, 4)
	f.Fuzz(func(t *testing.T, s []byte, k int) {
		r := MultiMCW(s, k)
		if r.Ran() {
			require.GreaterOrEqual(t, r.MinEntropy, 0.0, "MultiMCW = %+v", r)
			require.LessOrEqual(t, r.C, r.N, "MultiMCW = %+v", r)
		}
		bits := make([]byte, len(s)*8)
		for i, x := range s {
			for j := range 8 {
				bits[8*i+j] = x >> j & 1
			}
		}
		if len(bits) > mcwWindows[len(mcwWindows)-1] {
			c1, l1 := mcwBinary(bits)
			c2, l2 := mcwSymbols(bits, 2)
			require.Equal(t, c2, c1, "binary C, general C")
			require.Equal(t, l2, l1, "binary run, general run")
		}
	})
}
