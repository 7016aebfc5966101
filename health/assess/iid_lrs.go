package assess

import "math"

// lrsAlpha is the significance level of the longest repeated substring
// test: it fails when Pr(X ≥ 1) < 1/1000.
const lrsAlpha = 0.001

// LRSTestResult is the outcome of the length of the longest repeated
// substring test, per SP 800-90B Section 5.2.5 (not the LRS estimate of
// Section 6.3.6, [LRSResult]).
type LRSTestResult struct {
	// PCol is the probability that two samples collide, Σ p_i².
	PCol float64 `json:"pCol"`
	// W is the length of the longest repeated substring.
	W int `json:"w"`
	// PAtLeastOne is Pr(X ≥ 1) = 1 - (1 - PCol^W)^N, N = C(L-W+1, 2).
	PAtLeastOne float64 `json:"pAtLeastOne"`
	// Passed is true when PAtLeastOne is at least 1/1000.
	Passed bool `json:"passed"`
}

// LongestRepeatedSubstringTest runs the length of the longest repeated substring
// test, per SP 800-90B Section 5.2.5, on the symbols s (values 0..k-1), as
// NIST's tool does (len_LRS_test).
func LongestRepeatedSubstringTest(s []byte, k int) LRSTestResult {
	var r LRSTestResult
	// Step 1. The collision probability from the symbol proportions.
	for _, p := range proportions(s, k) {
		r.PCol += p * p
	}
	// A single symbol collides at every length: the test passes.
	if r.PCol >= 1 {
		r.PCol, r.PAtLeastOne, r.Passed = 1, 1, true
		return r
	}
	// Step 2. W, the longest repeated substring (suffix.go).
	r.W = longestRepeatedSubstring(s, k)
	// Step 3. The number of pairs of W-long substrings, and the probability
	// that at least one pair collides, under the independence of pairs.
	n := float64(len(s) - r.W + 1)
	pairs := (n*n - n) / 2
	logNoCollision := math.Log1p(-math.Pow(r.PCol, float64(r.W)))
	r.PAtLeastOne = -math.Expm1(pairs * logNoCollision)
	// Step 4. Pass iff Pr(X ≥ 1) ≥ 1/1000, i.e. log(0.999) ≥ N·log(1-p^W).
	r.Passed = math.Log1p(-lrsAlpha) >= pairs*logNoCollision
	return r
}
