package assess

import "math"

// PredictionResult is the result of one of the predictor estimates of SP
// 800-90B Sections 6.3.7 to 6.3.10 (MultiMCW, Lag, MultiMMC, LZ78Y), with the
// intermediate values the tool prints.
type PredictionResult struct {
	Estimate
	// C is the number of correct predictions.
	C int
	// N is the number of predictions made.
	N int
	// R is one more than the longest run of correct predictions, the r of
	// SP 800-90B Section 6.3.7 Step 6 and the "r" the tool prints.
	R int
	// PGlobal is C/N, and PGlobalPrime its 99% upper bound.
	PGlobal, PGlobalPrime float64
	// PLocal is the local bound found from R, or 0 when it cannot change
	// the result (the tool then prints "P_local can't change the result").
	PLocal float64
}

// logAlphaLocal is ln(0.99): the local bound P_local is the p at which the
// probability of seeing no run of R correct predictions in N is 0.99.
var logAlphaLocal = math.Log(0.99)

// Constants of the tool's root finding for P_local (its utils.h).
const (
	// ldblEpsilon is LDBL_EPSILON of the x87 80-bit long double in which the
	// tool iterates the run-length fixed point: 2^-63.
	ldblEpsilon = 0x1p-63
	// fixedPointIterations bounds that iteration, as in the tool (i <= 65).
	fixedPointIterations = 66
	// bisectionIterations is the tool's ITERMAX: enough halvings to reach
	// the smallest double.
	bisectionIterations = 1076
	// dblMin and dblEpsilon are DBL_MIN and DBL_EPSILON, the tool's
	// ABSEPSILON and RELEPSILON for that test.
	dblMin     = 0x1p-1022
	dblEpsilon = 0x1p-52
	// equalULPs is how many units in the last place count as reaching the
	// target in the bisection.
	equalULPs = 4
)

// predictionEstimate turns the counts of a predictor into its min-entropy
// estimate, per SP 800-90B Section 6.3.7 Steps 5 to 7 (shared by Sections
// 6.3.8 to 6.3.10): c correct predictions out of n, r one more than the
// longest run of correct predictions, k the alphabet size.
//
// It follows SP800-90B_EntropyAssessment 1.1.7 (predictionEstimate and
// calc_p_local): P_global' is the 99% upper bound on c/n (or 1 - 0.01^(1/n)
// when c = 0); P_local is searched for only when it could exceed
// max(1/k, P_global'), by the tool's bisection. pLocal is 0 when it was not
// searched for. The estimate is -log2 of the largest of 1/k, P_global' and
// P_local.
func predictionEstimate(c, n, r, k int) (pGlobal, pGlobalPrime, pLocal, minEntropy float64) {
	if n < 2 || c < 0 || c > n || r < 1 || k < 2 {
		panic("assess: internal error: prediction counts out of range")
	}
	curMax := 1 / float64(k)

	// Step 5. P_global and its upper bound P_global'.
	pGlobal = float64(c) / float64(n)
	if pGlobal > 0 {
		pGlobalPrime = math.Min(1, pGlobal+zAlpha*math.Sqrt(pGlobal*(1-pGlobal)/(float64(n)-1)))
	} else {
		pGlobalPrime = 1 - math.Pow(0.01, 1/float64(n))
	}
	curMax = math.Max(curMax, pGlobalPrime)

	// Step 6. P_local, when it can change the result.
	if curMax < 1 && runFunction(curMax, r, n) > logAlphaLocal {
		pLocal = localBound(r, n, curMax)
		curMax = math.Max(curMax, pLocal)
	}

	// Step 7. The estimate.
	return pGlobal, pGlobalPrime, pLocal, -math.Log2(curMax)
}

// newPredictionResult wraps predictionEstimate into a PredictionResult named
// as the tool's JSON names the estimator.
func newPredictionResult(name, section string, c, n, r, k int) PredictionResult {
	pg, pgp, pl, h := predictionEstimate(c, n, r, k)
	return PredictionResult{
		Estimate:     Estimate{Name: name, Section: section, MinEntropy: h, P: math.Exp2(-h)},
		C:            c,
		N:            n,
		R:            r,
		PGlobal:      pg,
		PGlobalPrime: pgp,
		PLocal:       pl,
	}
}

// runFunction returns the natural logarithm of the probability, per SP
// 800-90B Section 6.3.7 Step 6, that n independent predictions each correct
// with probability p contain no run of r correct ones:
//
//	ln(1 - p·x) - ln((r + 1 - r·x)·q) - (n + 1)·ln(x),
//
// with q = 1 - p and x the root of x = 1 + q·p^r·x^(r+1), found by the
// tool's fixed-point iteration. The tool iterates x in 80-bit long double;
// here the iteration runs on y = x - 1 (x is within about 1e-9 of 1 at the
// roots that matter), with ln(x) = log1p(y), which keeps more precision than
// the tool's long double and so agrees with it to its own rounding.
func runFunction(p float64, r, n int) float64 {
	q := 1 - p
	rf := float64(r)
	qpr := q * math.Pow(p, rf)
	y, yLast := 0.0, -1.0
	for i := 0; i < fixedPointIterations && (y-yLast) > ldblEpsilon*(1+y); i++ {
		yLast = y
		y = qpr * math.Exp((rf+1)*math.Log1p(y))
	}
	return math.Log(q-p*y) - math.Log((1-rf*y)*q) - (float64(n)+1)*math.Log1p(y)
}

// localBound finds P_local, the p in [lDomain, 1] at which
// runFunction(p, r, n) = ln(0.99), by the tool's bisection (calc_p_local).
func localBound(r, n int, lDomain float64) float64 {
	return bisect(func(p float64) float64 { return runFunction(p, r, n) }, logAlphaLocal, lDomain, 1, 1)
}

// predRelEpsilonEqual is the tool's closeness test: relative (maxRel) for
// normal values, absolute (maxAbs) when a relative test is meaningless, and
// otherwise within maxULP units in the last place.
func predRelEpsilonEqual(a, b, maxAbs, maxRel float64, maxULP uint64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return false
	}
	if a == b {
		return true
	}
	if math.IsInf(a, 0) || math.IsInf(b, 0) {
		return false
	}
	absA, absB := math.Abs(a), math.Abs(b)
	if absA > absB {
		a, b = b, a
		absA, absB = absB, absA
	}
	diff := math.Abs(b - a)
	if absA < dblMin || diff < dblMin || math.IsInf(diff, 0) || absB*maxRel < dblMin {
		return diff <= maxAbs
	}
	if diff <= absB*maxRel {
		return true
	}
	if math.Signbit(a) != math.Signbit(b) {
		return false
	}
	return math.Float64bits(absB)-math.Float64bits(absA) <= maxULP
}
