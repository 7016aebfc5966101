package assess

import "math"

// MCVResult is the Most Common Value estimate with its intermediate values.
type MCVResult struct {
	Estimate
	// Mode is the number of occurrences of the most common value.
	Mode int
	// PHat is Mode / L, the proportion of the most common value.
	PHat float64
	// PU is the 99% upper bound on PHat (equal to Estimate.P).
	PU float64
}

// mcvName and mcvSection name the estimator as the tool's JSON does.
const (
	mcvName    = "Most Common Value"
	mcvSection = "6.3.1"
)

// MostCommonValue computes the Most Common Value estimate, per SP 800-90B
// Section 6.3.1, of s, whose symbols are in 0..k-1. s must not be empty.
func MostCommonValue(s []byte, k int) MCVResult {
	// Step 1. Find the proportion of the most common value.
	mode := maxCount(s, k)
	L := float64(len(s))
	pHat := float64(mode) / L

	// Step 2. Its upper bound at 99% confidence,
	// p_u = min(1, p̂ + 2.576·sqrt(p̂(1-p̂)/(L-1))).
	pu := math.Min(1, pHat+zAlpha*math.Sqrt(pHat*(1-pHat)/(L-1)))

	// Step 3. The estimate is -log2(p_u).
	return MCVResult{
		Estimate: Estimate{Name: mcvName, Section: mcvSection, MinEntropy: -math.Log2(pu), P: pu},
		Mode:     mode,
		PHat:     pHat,
		PU:       pu,
	}
}

// maxCount returns the number of occurrences of the most common symbol.
func maxCount(s []byte, k int) int {
	if k <= 2 {
		ones := countOnes(s)
		return max(ones, len(s)-ones)
	}
	// Four interleaved tables break the store-to-load dependency of runs
	// of equal symbols.
	var c [4][256]int
	i := 0
	for ; i+4 <= len(s); i += 4 {
		c[0][s[i]]++
		c[1][s[i+1]]++
		c[2][s[i+2]]++
		c[3][s[i+3]]++
	}
	for ; i < len(s); i++ {
		c[0][s[i]]++
	}
	m := 0
	for v := range 256 {
		m = max(m, c[0][v]+c[1][v]+c[2][v]+c[3][v])
	}
	return m
}

// countOnes returns the number of non-zero bytes of a 0/1 sequence.
func countOnes(s []byte) int {
	n := 0
	for _, b := range s {
		n += int(b)
	}
	return n
}
