package assess

import (
	"bytes"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMostCommonValueSmall(t *testing.T) {
	s := bytes.Repeat([]byte{0, 0, 1, 2}, 25)
	r := MostCommonValue(s, 3)
	pu := 0.5 + zAlpha*math.Sqrt(0.25/99)
	assert.Equal(t, 50, r.Mode, "mode")
	assert.Equal(t, 0.5, r.PHat, "p-hat")
	assert.Equal(t, pu, r.PU, "p_u")
	assert.Equal(t, -math.Log2(pu), r.MinEntropy, "min-entropy")
	// p_u is capped at 1.
	r = MostCommonValue([]byte{1, 1, 1, 0}, 2)
	assert.Equal(t, 1.0, r.PU, "capped: p_u")
	assert.Equal(t, 0.0, r.MinEntropy, "capped: min-entropy")
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
	assert.Equal(t, 3, r.V, "alternating: v")
	assert.Equal(t, 9, r.SumT, "alternating: sum of t_i")
	assert.Equal(t, 3.0, r.XBar, "alternating: X-bar")
	assert.False(t, r.Found, "alternating: p found, want no root")
	assert.Equal(t, 0.5, r.P, "alternating: p")
	assert.Equal(t, 1.0, r.MinEntropy, "alternating: min-entropy")
	// Constant bits collide every 2: X̄' = 2, p = 1, no entropy.
	r = Collision(make([]byte, 100))
	assert.Equal(t, 50, r.V, "constant: v")
	assert.True(t, r.Found, "constant: p not found, want a root")
	assert.Equal(t, 1.0, r.P, "constant: p")
	assert.Equal(t, 0.0, r.MinEntropy, "constant: min-entropy")
}

func TestMarkovSmall(t *testing.T) {
	// Constant zeros: the sequence 00…0 is certain.
	r := Markov(make([]byte, 100))
	assert.Equal(t, 0.0, r.MinEntropy, "constant: min-entropy")
	assert.Equal(t, 1.0, r.P00, "constant: P_{0,0}")
	assert.Equal(t, 0.0, r.P10, "constant: P_{1,0}")
	// Alternating: 0101…01 has probability P_0 = 1/2.
	r = Markov(alternating(1000))
	assert.Equal(t, 0.5, r.P0, "alternating: P_0")
	assert.Equal(t, 1.0, r.P01, "alternating: P_{0,1}")
	assert.Equal(t, 1.0, r.P10, "alternating: P_{1,0}")
	assert.Equal(t, 1.0/markovLen, r.MinEntropy, "alternating: min-entropy")
	assert.Equal(t, 0.5, r.PHatMax, "alternating: p-hat_max")
}

func TestCompressionNeedsBlocks(t *testing.T) {
	n := compB * compD
	r := Compression(alternating(n + compB - 1))
	assert.False(t, r.Ran(), "%d bits: ran (%+v), want skipped", n+compB-1, r)
	assert.NotEmpty(t, r.Skipped, "%d bits: no reason for the skip", n+compB-1)
	r = Compression(alternating(n + compB))
	assert.True(t, r.Ran(), "%d bits: skipped (%s), want run", n+compB, r.Skipped)
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
		got := c.g(z)
		assertRelClose(t, want, got, 1e-12, "G(%v) = %.17g, term by term %.17g", z, got, want)
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
		got := predRelEpsilonEqual(tc.a, tc.b, dblMin, dblEpsilon, equalULPs)
		assert.Equal(t, tc.want, got, "predRelEpsilonEqual(%v, %v)", tc.a, tc.b)
	}
}
