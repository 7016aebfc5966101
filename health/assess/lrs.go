package assess

import "math"

// LRSResult is the Longest Repeated Substring estimate with its
// intermediate values.
type LRSResult struct {
	Estimate
	// U is the smallest tuple length whose most common tuple occurs fewer
	// than 35 times, and V the length of the longest repeated substring:
	// the estimate uses the lengths U..V.
	U, V int
	// PHat is the largest P_W^(1/W) over W = U..V.
	PHat float64
	// PU is the 99% upper bound on PHat (equal to Estimate.P).
	PU float64
}

const (
	lrsName    = "LRS Test"
	lrsSection = "6.3.6"
)

// LRS computes the Longest Repeated Substring estimate, per SP 800-90B
// Section 6.3.6, of s, whose symbols lie in 0..k-1. It is TupleEstimates
// without the t-Tuple half; see there for when it is skipped.
func LRS(s []byte, k int) LRSResult {
	_, l := TupleEstimates(s, k)
	return l
}

// lrs finishes the LRS estimate, per SP 800-90B Section 6.3.6.
func (c tupleCounts) lrs() LRSResult {
	r := LRSResult{Estimate: Estimate{Name: lrsName, Section: lrsSection}}
	// Steps 1-2. u, the smallest length whose most common tuple occurs
	// fewer than 35 times, and v, the longest repeat.
	r.U, r.V = c.u(), c.v
	if r.V < r.U {
		r.Skipped = "assess: the longest repeated substring is shorter than u, LRS estimate cannot run"
		return r
	}
	// Steps 3-4. P_W = Σ C(C_i, 2) / C(L - W + 1, 2) over the W-tuples
	// with counts C_i, and p-hat = max P_W^(1/W).
	pHat := 0.0
	for w := r.U; w <= r.V; w++ {
		m := uint64(c.n - w)
		choices := m * (m + 1) / 2
		p := float64(c.pairs[w]) / float64(choices)
		pHat = math.Max(pHat, math.Pow(p, 1/float64(w)))
	}
	// Step 5. The upper bound and the estimate.
	r.PHat = pHat
	r.PU = upperBound(pHat, c.n)
	r.P = r.PU
	r.MinEntropy = -math.Log2(r.PU)
	return r
}
