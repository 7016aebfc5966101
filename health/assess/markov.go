package assess

import "math"

// MarkovResult is the Markov estimate with its intermediate values.
type MarkovResult struct {
	Estimate
	// P0 and P1 are the proportions of zeros and ones.
	P0, P1 float64
	// P00, P01, P10 and P11 are the transition probabilities P_{i,j}, the
	// proportion of i followed by j among the bits i that have a successor.
	P00, P01, P10, P11 float64
	// PHatMax is the probability of the most likely 128-bit sequence (equal
	// to 2^-(128·MinEntropy) unless the estimate was capped at 1).
	PHatMax float64
}

const (
	markovName    = "Markov Test (for bit strings only)"
	markovSection = "6.3.3"
	// markovLen is the length of the sequences whose probability Step 3
	// bounds.
	markovLen = 128
)

// Markov computes the Markov estimate, per SP 800-90B Section 6.3.3, of the
// binary sequence s (symbols 0 and 1), which must hold at least 2 bits.
func Markov(s []byte) MarkovResult {
	n := len(s)
	// Steps 1-2. Count zeros and transitions over s[0..n-2].
	c0, c00, c10 := markovCounts(s)
	c1 := n - 1 - c0

	// Step 2. Transition probabilities; P_{x,1} = 1 - P_{x,0}.
	var p00, p01, p10, p11 float64
	if c0 > 0 {
		p00 = float64(c00) / float64(c0)
		p01 = 1 - p00
	}
	if c1 > 0 {
		p10 = float64(c10) / float64(c1)
		p11 = 1 - p10
	}
	// Step 1. The initial probabilities count the last bit too.
	if s[n-1] == 0 {
		c0++
	}
	p0 := float64(c0) / float64(n)
	p1 := 1 - p0

	// Step 3. The most likely of the six candidate 128-bit sequences, as
	// -log2 of its probability.
	const m = markovLen - 1
	const half = markovLen / 2
	h := float64(markovLen)
	if p00 > 0 { // 00…0
		h = math.Min(h, -math.Log2(p0)-m*math.Log2(p00))
	}
	if p01 > 0 && p10 > 0 { // 0101…01
		h = math.Min(h, -math.Log2(p0)-half*math.Log2(p01)-(half-1)*math.Log2(p10))
	}
	if p01 > 0 && p11 > 0 { // 011…1
		h = math.Min(h, -math.Log2(p0)-math.Log2(p01)-(m-1)*math.Log2(p11))
	}
	if p10 > 0 && p00 > 0 { // 100…0
		h = math.Min(h, -math.Log2(p1)-math.Log2(p10)-(m-1)*math.Log2(p00))
	}
	if p10 > 0 && p01 > 0 { // 1010…10
		h = math.Min(h, -math.Log2(p1)-half*math.Log2(p10)-(half-1)*math.Log2(p01))
	}
	if p11 > 0 { // 11…1
		h = math.Min(h, -math.Log2(p1)-m*math.Log2(p11))
	}

	// Step 4. The estimate per bit, at most 1.
	pMax := math.Pow(2, -h)
	return MarkovResult{
		Estimate: Estimate{Name: markovName, Section: markovSection, MinEntropy: math.Min(h/markovLen, 1), P: pMax},
		P0:       p0, P1: p1,
		P00: p00, P01: p01, P10: p10, P11: p11,
		PHatMax: pMax,
	}
}

// markovCounts returns, over s[0..len-2], the number of zeros, of zeros
// followed by a zero, and of ones followed by a zero.
func markovCounts(s []byte) (c0, c00, c10 int) {
	for i := 0; i+1 < len(s); i++ {
		a, b := int(s[i]), int(s[i+1])
		c0 += 1 - a
		c00 += (1 - a) * (1 - b)
		c10 += a * (1 - b)
	}
	return c0, c00, c10
}
