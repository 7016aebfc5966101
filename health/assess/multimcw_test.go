package assess

import (
	"math/rand/v2"
	"testing"
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
				if got.Name != "Multi Most Common in Window Test" || got.Section != "6.3.7" || !got.Ran() {
					t.Fatalf("%s: %+v", seq.label, got.Estimate)
				}
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
	if !ok {
		t.Fatalf("%s: JSON %q has no %s", c.name, e.Name, key)
	}
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
		if c1 != c2 || l1 != l2 {
			t.Errorf("p1 = %g: binary C = %d, run %d; general C = %d, run %d", p1, c1, l1, c2, l2)
		}
	}
}

func TestMultiMCWSkipped(t *testing.T) {
	if r := MultiMCW(make([]byte, 4095), 2); r.Ran() {
		t.Errorf("4095 symbols: %+v, want skipped", r.Estimate)
	}
	if r := MultiMCW(make([]byte, 4096), 1); r.Ran() {
		t.Errorf("k = 1: %+v, want skipped", r.Estimate)
	}
	s := ptRandomBits(9, 4096, 0.5)
	if r := MultiMCW(s, 2); !r.Ran() || r.N != 4096-63 {
		t.Errorf("4096 symbols: %+v, N = %d", r.Estimate, r.N)
	}
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
		if r.Ran() && (r.MinEntropy < 0 || r.C > r.N) {
			t.Fatalf("MultiMCW = %+v", r)
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
			if c1 != c2 || l1 != l2 {
				t.Fatalf("binary C = %d, run %d; general C = %d, run %d", c1, l1, c2, l2)
			}
		}
	})
}
