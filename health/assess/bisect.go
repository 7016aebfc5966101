package assess

import "math"

// bisect finds p in [lDomain, hDomain] with f(p) = target, for a
// decreasing f, by the bisection of SP800-90B_EntropyAssessment 1.1.7 (its
// calc_p_local, Section 6.3.7, and the compression estimate's solver,
// Section 6.3.4, Step 7). It stops when f(p) equals the target to within a
// relative DBL_EPSILON or 4 ULPs, or after bisectionIterations halvings.
// When an invariant breaks it returns what the tool returns: the larger
// bound when the bounds cross, outOfDomain when a bound or the target
// leaves its interval (the two solvers differ only there: lDomain for the
// compression estimate, hDomain for P_local), and the upper bound when the
// interval stops shrinking or f stops being monotone.
func bisect(f func(float64) float64, target, lDomain, hDomain, outOfDomain float64) float64 {
	lBound, hBound := lDomain, hDomain
	lValue, hValue := math.Inf(1), math.Inf(-1)
	p := (lBound + hBound) / 2
	pVal := f(p)
	for range bisectionIterations {
		if predRelEpsilonEqual(pVal, target, dblMin, dblEpsilon, equalULPs) {
			break
		}
		if target < pVal {
			lBound, lValue = p, pVal
		} else {
			hBound, hValue = p, pVal
		}
		if lBound >= hBound {
			return math.Min(math.Max(lBound, hBound), hDomain)
		}
		if !inClosed(lBound, lDomain, hDomain) || !inClosed(hBound, lDomain, hDomain) {
			return outOfDomain
		}
		if !inClosed(target, lValue, hValue) {
			return outOfDomain
		}
		lastP := p
		p = (lBound + hBound) / 2
		if !inOpen(p, lBound, hBound) || lastP == p {
			return hBound
		}
		pVal = f(p)
		if !inClosed(pVal, lValue, hValue) {
			return hBound
		}
	}
	return p
}

// inClosed reports whether x lies in the closed interval between a and b,
// in either order (the tool's INCLOSEDINTERVAL).
func inClosed(x, a, b float64) bool {
	if a > b {
		a, b = b, a
	}
	return x >= a && x <= b
}

// inOpen reports whether x lies strictly between a and b, in either order
// (the tool's INOPENINTERVAL).
func inOpen(x, a, b float64) bool {
	if a > b {
		a, b = b, a
	}
	return x > a && x < b
}
