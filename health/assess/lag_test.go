package assess

import "testing"

// TestLag compares the Lag estimate of every sample file, on the bitstring
// and on the literal samples, with the tool's C, N, r, P_global, P_global',
// P_local and estimate (verbose text) and its JSON.
func TestLag(t *testing.T) {
	n := 0
	for _, c := range ptLoad(t) {
		t.Run(c.name, func(t *testing.T) {
			for _, seq := range c.sequences() {
				got := Lag(seq.s, seq.k)
				if got.Name != "Lag Prediction Test" || got.Section != "6.3.8" || !got.Ran() {
					t.Fatalf("%s: %+v", seq.label, got.Estimate)
				}
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
			if c1 != c2 || l1 != l2 {
				t.Errorf("p1 = %g, n = %d: binary C = %d, run %d; general C = %d, run %d", p1, n, c1, l1, c2, l2)
			}
		}
	}
}

func TestLagSkipped(t *testing.T) {
	if r := Lag([]byte{0, 1}, 2); r.Ran() {
		t.Errorf("2 symbols: %+v, want skipped", r.Estimate)
	}
	if r := Lag([]byte{0, 1, 2}, 2); r.Ran() {
		t.Errorf("symbol 2 with k = 2: %+v, want skipped", r.Estimate)
	}
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
		if r.Ran() && (r.MinEntropy < 0 || r.C > r.N) {
			t.Fatalf("Lag = %+v", r)
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
			if c1 != c2 || l1 != l2 {
				t.Fatalf("binary C = %d, run %d; general C = %d, run %d", c1, l1, c2, l2)
			}
		}
	})
}
