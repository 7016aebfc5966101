package assess

import (
	"fmt"
	"math"
)

// TTupleResult is the t-Tuple estimate with its intermediate values.
type TTupleResult struct {
	Estimate
	// T is the largest tuple length whose most common tuple occurs at least
	// 35 times (the tool's t); 0 when no symbol occurs 35 times.
	T int
	// PMax is p-hat_max, the largest P_max[i]^(1/i) over i = 1..T.
	PMax float64
	// PU is the 99% upper bound on PMax (equal to Estimate.P).
	PU float64
}

const (
	tTupleName    = "T-Tuple Test"
	tTupleSection = "6.3.5"
	// tupleCutoff is the count a tuple must reach to be used, per SP
	// 800-90B Section 6.3.5 Step 1.
	tupleCutoff = 35
)

// TTuple computes the t-Tuple estimate, per SP 800-90B Section 6.3.5, of s,
// whose symbols lie in 0..k-1. It is TupleEstimates without the LRS half.
func TTuple(s []byte, k int) TTupleResult {
	t, _ := TupleEstimates(s, k)
	return t
}

// TupleEstimates computes the t-Tuple (SP 800-90B Section 6.3.5) and LRS
// (Section 6.3.6) estimates of s, whose symbols lie in 0..k-1, from one
// suffix array, as the tool's SAalgs does. Use it rather than TTuple and LRS
// when both are wanted: building the suffix array is most of the cost.
//
// An estimate that cannot be made is marked Skipped, with the reason: the
// input is shorter than 2 symbols, has a symbol outside 0..k-1 or k outside
// 2..256 (both skipped); no symbol repeats (both skipped); no symbol occurs
// 35 times (t-Tuple skipped, as the tool's "t-Tuple estimate failed"); the
// longest repeat is shorter than the LRS tuple length u (LRS skipped, the
// tool's "v<u").
func TupleEstimates(s []byte, k int) (TTupleResult, LRSResult) {
	t := TTupleResult{Estimate: Estimate{Name: tTupleName, Section: tTupleSection}}
	l := LRSResult{Estimate: Estimate{Name: lrsName, Section: lrsSection}}
	if why := sequenceProblem(s, k, 2); why != "" {
		t.Skipped, l.Skipped = why, why
		return t, l
	}
	c := countTuples(s, k)
	if c.v == 0 {
		why := "assess: no symbol repeats, tuple counts undefined"
		t.Skipped, l.Skipped = why, why
		return t, l
	}
	return c.tTuple(), c.lrs()
}

// tupleCounts holds, for every tuple length i = 1..v (v the length of the
// longest repeated substring), the count of the most common i-tuple, q[i],
// and the number of pairs of equal i-tuples, pairs[i] = Σ C(count, 2).
type tupleCounts struct {
	n     int
	v     int
	q     []int64
	pairs []uint64
}

// countTuples counts tuples from the LCP array of s: the occurrences of an
// i-tuple are the suffixes of an LCP interval of depth at least i, so each
// interval of depth d and size m, nested in one of depth d' < d, is the
// class of its tuples of every length i in (d', d]. One pass over the LCP
// array with a stack of open intervals finds them all (Abouelhoda, Kurtz
// and Ohlebusch, J. Discrete Algorithms 2(1), 2004); the per-length maxima
// and pair counts follow by a suffix maximum and a prefix sum.
func countTuples(s []byte, k int) tupleCounts {
	n := len(s)
	lcp := suffixLCP(s, k)
	v := 0
	for _, l := range lcp {
		v = max(v, int(l))
	}
	c := tupleCounts{n: n, v: v}
	if v == 0 {
		return c
	}
	best := make([]int64, v+2)   // largest interval of depth exactly d
	pdiff := make([]uint64, v+2) // pair counts, as differences over depth

	type open struct{ depth, lb int }
	stack := []open{{0, 0}}
	for i := 1; i <= n; i++ {
		cur := 0
		if i < n {
			cur = int(lcp[i])
		}
		lb := i - 1
		for cur < stack[len(stack)-1].depth {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			m := int64(i - top.lb)
			parent := max(cur, stack[len(stack)-1].depth)
			best[top.depth] = max(best[top.depth], m)
			pc := uint64(m) * uint64(m-1) / 2
			pdiff[parent+1] += pc
			pdiff[top.depth+1] -= pc
			lb = top.lb
		}
		if cur > stack[len(stack)-1].depth {
			stack = append(stack, open{cur, lb})
		}
	}

	c.q = make([]int64, v+1)
	c.pairs = make([]uint64, v+1)
	run := int64(1) // a tuple that occurs at all occurs once
	for d := v; d >= 1; d-- {
		run = max(run, best[d])
		c.q[d] = run
	}
	var sum uint64
	for d := 1; d <= v; d++ {
		sum += pdiff[d]
		c.pairs[d] = sum
	}
	return c
}

// u returns the smallest tuple length whose most common tuple occurs fewer
// than 35 times (v+1 when there is none): the t-Tuple estimate uses the
// lengths below it, the LRS estimate those from it up to v.
func (c tupleCounts) u() int {
	u := 1
	for u <= c.v && c.q[u] >= tupleCutoff {
		u++
	}
	return u
}

// tTuple finishes the t-Tuple estimate, per SP 800-90B Section 6.3.5.
func (c tupleCounts) tTuple() TTupleResult {
	r := TTupleResult{Estimate: Estimate{Name: tTupleName, Section: tTupleSection}}
	// Step 1. t, the largest length with a tuple occurring 35 times.
	r.T = c.u() - 1
	if r.T == 0 {
		r.Skipped = fmt.Sprintf("assess: no symbol occurs %d times, t-Tuple estimate failed", tupleCutoff)
		return r
	}
	// Steps 2-4. P_max[i] = (Q[i] / (L - i + 1))^(1/i); p-hat_max is the
	// largest.
	pMax := -1.0
	for i := 1; i <= r.T; i++ {
		p := float64(c.q[i]) / float64(c.n-i+1)
		pMax = math.Max(pMax, math.Pow(p, 1/float64(i)))
	}
	// Step 5. The upper bound and the estimate.
	r.PMax = pMax
	r.PU = upperBound(pMax, c.n)
	r.P = r.PU
	r.MinEntropy = -math.Log2(r.PU)
	return r
}

// upperBound is the 99% upper confidence bound of the tuple estimates,
// p_u = min(1, p + Z_0.995·sqrt(p(1-p)/(L-1))).
func upperBound(p float64, n int) float64 {
	return math.Min(1, p+zAlpha*math.Sqrt(p*(1-p)/float64(n-1)))
}

// sequenceProblem returns why s (symbols 0..k-1) cannot be assessed by an
// estimator that needs at least minLen symbols, or "" when it can.
func sequenceProblem(s []byte, k, minLen int) string {
	if k < 2 || k > 256 {
		return fmt.Sprintf("assess: alphabet size %d not in 2..256", k)
	}
	if len(s) < minLen {
		return fmt.Sprintf("assess: %d samples, need at least %d", len(s), minLen)
	}
	if k < 256 {
		for _, x := range s {
			if int(x) >= k {
				return fmt.Sprintf("assess: symbol %d outside the alphabet 0..%d", x, k-1)
			}
		}
	}
	return ""
}
