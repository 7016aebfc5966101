package assess

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
)

// Constants of the chi-square tests, per SP 800-90B Section 5.2.
const (
	// chiSquareAlpha is the significance level: a test fails when its
	// p-value is below it.
	chiSquareAlpha = 0.001
	// chiSquareMinExpected is the least expected count of a bin.
	chiSquareMinExpected = 5.0
	// chiSquareSubsets is the number of subsets of the goodness-of-fit test.
	chiSquareSubsets = 10
	// chiSquareMaxTupleBits is the longest tuple of the binary
	// independence test (the tool starts its search for m at 11).
	chiSquareMaxTupleBits = 11
)

// ChiSquareResult holds both chi-square tests of SP 800-90B Section 5.2.
type ChiSquareResult struct {
	// IndependenceT, IndependenceDF and IndependenceP are the statistic,
	// degrees of freedom and p-value of the independence test (Section
	// 5.2.1, or 5.2.3 for binary data).
	IndependenceT  float64 `json:"independenceT"`
	IndependenceDF int     `json:"independenceDf"`
	IndependenceP  float64 `json:"independenceP"`
	// GoodnessT, GoodnessDF and GoodnessP are those of the goodness-of-fit
	// test (Section 5.2.2, or 5.2.4 for binary data).
	GoodnessT  float64 `json:"goodnessOfFitT"`
	GoodnessDF int     `json:"goodnessOfFitDf"`
	GoodnessP  float64 `json:"goodnessOfFitP"`
	// Passed is false when either p-value is below 0.001.
	Passed bool `json:"passed"`
}

// ChiSquare runs the chi-square independence and goodness-of-fit tests, per
// SP 800-90B Section 5.2, on the symbols s (values 0..k-1), with the binary
// variants when k == 2, as NIST's tool does (chi_square_tests).
func ChiSquare(s []byte, k int) ChiSquareResult {
	var r ChiSquareResult
	if k == 2 {
		r.IndependenceT, r.IndependenceDF = binaryIndependence(s)
		r.GoodnessT, r.GoodnessDF = binaryGoodnessOfFit(s)
	} else {
		p := proportions(s, k)
		r.IndependenceT, r.IndependenceDF = independence(s, k, p)
		r.GoodnessT, r.GoodnessDF = goodnessOfFit(s, k, p)
	}
	r.IndependenceP = chiSquarePValue(r.IndependenceT, r.IndependenceDF)
	r.GoodnessP = chiSquarePValue(r.GoodnessT, r.GoodnessDF)
	// As in the tool, a test fails only on a p-value below alpha (an
	// undefined one, from too few samples, does not fail it).
	r.Passed = !(r.IndependenceP < chiSquareAlpha) && !(r.GoodnessP < chiSquareAlpha)
	return r
}

// proportions returns the proportion of each symbol, summed as the tool sums
// it (1/L added once per occurrence), so that equal counts give equal
// proportions and the bins below match the tool's exactly.
func proportions(s []byte, k int) []float64 {
	var counts [256]int
	for _, x := range s {
		counts[x]++
	}
	inc := 1.0 / float64(len(s))
	p := make([]float64, k)
	for i := range p {
		for range counts[i] {
			p[i] += inc
		}
	}
	return p
}

// binEntry is one tuple (or symbol) with its expected count and its bin.
type binEntry struct {
	tuple    int
	expected float64
	bin      int
}

// allocateBins sorts e by expected count (then tuple), merges consecutive
// entries into bins of expected count at least 5, folds a short last bin
// into the one before, and returns the expected count of every bin. On
// return e is back in tuple order, with every entry's bin set.
func allocateBins(e []binEntry) []float64 {
	slices.SortFunc(e, func(a, b binEntry) int {
		if c := cmp.Compare(a.expected, b.expected); c != 0 {
			return c
		}
		return cmp.Compare(a.tuple, b.tuple)
	})
	var binExp []float64
	bin, cur := 0, 0.0
	for i := range e {
		if cur >= chiSquareMinExpected {
			binExp = append(binExp, cur)
			bin++
			cur = 0
		}
		e[i].bin = bin
		cur += e[i].expected
	}
	if bin != 0 && cur < chiSquareMinExpected {
		for i := len(e) - 1; e[i].bin == bin; i-- {
			e[i].bin = bin - 1
		}
		binExp[bin-1] += cur
	} else {
		binExp = append(binExp, cur)
	}
	slices.SortFunc(e, func(a, b binEntry) int { return cmp.Compare(a.tuple, b.tuple) })
	return binExp
}

// chiSquareT returns the sum over the bins of (o - e)^2 / e.
func chiSquareT(expected []float64, observed []int) float64 {
	t := 0.0
	for i, e := range expected {
		d := float64(observed[i]) - e
		t += d * d / e
	}
	return t
}

// independence is the chi-square test for independence for non-binary data,
// per SP 800-90B Section 5.2.1.
func independence(s []byte, k int, p []float64) (float64, int) {
	// Step 1. The expected count of each pair among the L/2 disjoint pairs.
	pairs := math.Floor(float64(len(s)) * 0.5)
	e := make([]binEntry, k*k)
	for i := range k {
		for j := range k {
			e[i*k+j] = binEntry{tuple: i*k + j, expected: p[i] * p[j] * pairs}
		}
	}
	// Step 2. Bins of expected count at least 5.
	binExp := allocateBins(e)
	// Step 3. The observed count of each bin.
	o := make([]int, len(binExp))
	for j := 0; j+1 < len(s); j += 2 {
		o[e[int(s[j])*k+int(s[j+1])].bin]++
	}
	// Step 4. T, with (bins - k) degrees of freedom.
	return chiSquareT(binExp, o), len(binExp) - k
}

// goodnessOfFit is the chi-square goodness-of-fit test for non-binary data,
// per SP 800-90B Section 5.2.2.
func goodnessOfFit(s []byte, k int, p []float64) (float64, int) {
	// Step 1. The expected count of each symbol in a tenth of the data.
	sub := math.Floor(float64(len(s)) / chiSquareSubsets)
	e := make([]binEntry, k)
	for j := range k {
		e[j] = binEntry{tuple: j, expected: p[j] * sub}
	}
	binExp := allocateBins(e)
	// Step 2. Sum T over the ten subsets.
	size := len(s) / chiSquareSubsets
	o := make([]int, len(binExp))
	t := 0.0
	for j := range chiSquareSubsets {
		clear(o)
		for _, x := range s[j*size : (j+1)*size] {
			o[e[x].bin]++
		}
		t += chiSquareT(binExp, o)
	}
	return t, (chiSquareSubsets - 1) * (len(binExp) - 1)
}

// binaryIndependence is the chi-square independence test for binary data,
// per SP 800-90B Section 5.2.3.
func binaryIndependence(s []byte) (float64, int) {
	n := len(s)
	// Step 1. The proportions of ones and zeros.
	p1 := float64(onesIn(s)) / float64(n)
	p0 := 1 - p1
	// Step 2. The longest tuple m (at most 11) with min(p0,p1)^m·⌊L/m⌋ ≥ 5.
	pMin := min(p0, p1)
	m := chiSquareMaxTupleBits
	for ; m > 1; m-- {
		if math.Pow(pMin, float64(m))*float64(n/m) >= chiSquareMinExpected {
			break
		}
	}
	if m < 2 {
		return 0, 0
	}
	// Step 3. Count the disjoint m-bit tuples, most significant bit first.
	blocks := n / m
	occ := make([]int, 1<<m)
	for i := range blocks {
		v := 0
		for _, b := range s[i*m : (i+1)*m] {
			v = v<<1 | int(b)
		}
		occ[v]++
	}
	// Step 4. T over all 2^m tuples, with 2^m - 2 degrees of freedom.
	t := 0.0
	for v, o := range occ {
		w := bits.OnesCount(uint(v))
		e := math.Pow(p1, float64(w)) * math.Pow(p0, float64(m-w)) * float64(blocks)
		d := float64(o) - e
		t += d * d / e
	}
	return t, 1<<m - 2
}

// binaryGoodnessOfFit is the chi-square goodness-of-fit test for binary
// data, per SP 800-90B Section 5.2.4.
func binaryGoodnessOfFit(s []byte) (float64, int) {
	n := len(s)
	sub := n / chiSquareSubsets
	// Step 1. The proportion of ones, and the expected counts per subset.
	p := float64(onesIn(s)) / float64(n)
	e0 := (1 - p) * float64(sub)
	e1 := p * float64(sub)
	// Step 2. Sum T over the ten subsets.
	t := 0.0
	for i := range chiSquareSubsets {
		o1 := onesIn(s[i*sub : (i+1)*sub])
		d0 := float64(sub-o1) - e0
		d1 := float64(o1) - e1
		t += d0*d0/e0 + d1*d1/e1
	}
	return t, chiSquareSubsets - 1
}

// chiSquarePValue is the upper tail of the chi-square distribution with df
// degrees of freedom at x: Q(df/2, x/2).
func chiSquarePValue(x float64, df int) float64 {
	return gammaQ(float64(df)/2, x/2)
}

// onesIn returns the number of ones in a sequence of zeros and ones.
func onesIn(s []byte) int {
	n := 0
	for _, b := range s {
		n += int(b)
	}
	return n
}
