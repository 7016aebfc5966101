package assess

import (
	"bytes"
	"math"
	"testing"
)

func TestMostCommonValueSmall(t *testing.T) {
	s := bytes.Repeat([]byte{0, 0, 1, 2}, 25)
	r := MostCommonValue(s, 3)
	pu := 0.5 + zAlpha*math.Sqrt(0.25/99)
	if r.Mode != 50 || r.PHat != 0.5 || r.PU != pu || r.MinEntropy != -math.Log2(pu) {
		t.Errorf("got %+v, want mode 50, p-hat 0.5, p_u %v", r, pu)
	}
	// p_u is capped at 1.
	if r := MostCommonValue([]byte{1, 1, 1, 0}, 2); r.PU != 1 || r.MinEntropy != 0 {
		t.Errorf("capped: p_u %v, H %v; want 1, 0", r.PU, r.MinEntropy)
	}
}

// alternating returns n bits 0101….
func alternating(n int) []byte {
	s := make([]byte, n)
	for i := range s {
		s[i] = byte(i & 1)
	}
	return s
}

func TestCollisionSmall(t *testing.T) {
	// 010101010: every collision takes 3 bits; X̄' = 3 ≥ 2.5, no root.
	r := Collision(alternating(9))
	if r.V != 3 || r.SumT != 9 || r.XBar != 3 || r.Found || r.P != 0.5 || r.MinEntropy != 1 {
		t.Errorf("alternating: %+v", r)
	}
	// Constant bits collide every 2: X̄' = 2, p = 1, no entropy.
	r = Collision(make([]byte, 100))
	if r.V != 50 || !r.Found || r.P != 1 || r.MinEntropy != 0 {
		t.Errorf("constant: %+v", r)
	}
}

func TestMarkovSmall(t *testing.T) {
	// Constant zeros: the sequence 00…0 is certain.
	if r := Markov(make([]byte, 100)); r.MinEntropy != 0 || r.P00 != 1 || r.P10 != 0 {
		t.Errorf("constant: %+v", r)
	}
	// Alternating: 0101…01 has probability P_0 = 1/2.
	r := Markov(alternating(1000))
	if r.P0 != 0.5 || r.P01 != 1 || r.P10 != 1 || r.MinEntropy != 1.0/markovLen || r.PHatMax != 0.5 {
		t.Errorf("alternating: %+v", r)
	}
}

func TestCompressionNeedsBlocks(t *testing.T) {
	n := compB * compD
	if r := Compression(alternating(n + compB - 1)); r.Ran() || r.Skipped == "" {
		t.Errorf("%d bits: ran (%+v), want skipped", n+compB-1, r)
	}
	if r := Compression(alternating(n + compB)); !r.Ran() {
		t.Errorf("%d bits: skipped (%s)", n+compB, r.Skipped)
	}
}

// TestCompressionG checks the reduced, truncated G against the double sum
// of SP 800-90B Section 6.3.4 Step 6 evaluated term by term.
func TestCompressionG(t *testing.T) {
	const L = 1300
	c := compExpect{d: compD, numBlocks: L, logs: newCompLog2Table(0)}
	for _, z := range []float64{1.0 / 64, 0.02, 0.1, 0.5, 0.9, 1 - 1e-9} {
		var sum, comp float64
		for tt := compD + 1; tt <= L; tt++ {
			for u := 1; u <= tt; u++ {
				f := z * z * math.Pow(1-z, float64(u-1))
				if u == tt {
					f = z * math.Pow(1-z, float64(tt-1))
				}
				sum, comp = compKahanAdd(sum, comp, math.Log2(float64(u))*f)
			}
		}
		want := sum / float64(L-compD)
		if got := c.g(z); !relClose(got, want, 1e-12) {
			t.Errorf("G(%v) = %.17g, term by term %.17g", z, got, want)
		}
	}
}

func TestCompNearlyEqual(t *testing.T) {
	one := 1.0
	for _, tc := range []struct {
		a, b float64
		want bool
	}{
		{1, 1, true},
		{one, math.Nextafter(one, 2), true},
		{1, 1 + 1e-12, false},
		{0, 1e-320, true}, // both below DBL_MIN: absolute test
		{math.NaN(), math.NaN(), false},
		{math.Inf(1), math.Inf(1), true},
		{math.Inf(1), 1e308, false},
		{-1, 1, false},
	} {
		if got := predRelEpsilonEqual(tc.a, tc.b, dblMin, dblEpsilon, equalULPs); got != tc.want {
			t.Errorf("predRelEpsilonEqual(%v, %v) = %v", tc.a, tc.b, got)
		}
	}
}
