package assess

import "math"

// CollisionResult is the Collision estimate with its intermediate values.
type CollisionResult struct {
	Estimate
	// V is the number of collisions found.
	V int
	// SumT is the sum of the collision times t_i (the index after the last
	// collision).
	SumT int
	// XBar is the mean collision time and SigmaHat its standard deviation.
	XBar, SigmaHat float64
	// XBarPrime is the 99% lower bound on XBar (at least 2).
	XBarPrime float64
	// Found reports whether p was solved for; when false, p = 1/2 and the
	// estimate is 1 bit.
	Found bool
}

const (
	collisionName    = "Collision Test (for bit strings only)"
	collisionSection = "6.3.2"
)

// Collision computes the Collision estimate, per SP 800-90B Section 6.3.2, of
// the binary sequence s (symbols 0 and 1), which must hold at least 3 bits.
//
// The closed form of Step 6 is the tool's: with the binary-alphabet
// F(q) = q(2q² + 2q + 1) of Appendix G.1.1, E[t] = -2p² + 2p + 2, whose root
// above 1/2 is p = 1/2 + sqrt(5/4 - X̄'/2); no root exists for X̄' ≥ 5/2.
func Collision(s []byte) CollisionResult {
	// Steps 1-3. Walk the sequence, recording the distance to each
	// collision: 2 when two adjacent bits match, otherwise 3 (with two
	// symbols the third bit always collides).
	var v, sumSq int
	i := 0
	n := len(s)
	for i < n-1 {
		t := 2
		if s[i] != s[i+1] {
			if i >= n-2 {
				break
			}
			t = 3
		}
		v++
		sumSq += t * t
		i += t
	}

	// Step 4. Mean and standard deviation of the collision times, computed
	// as the tool does: s² = (Σt² - Σt·X̄)/(v-1).
	xBar := float64(i) / float64(v)
	sigma := math.Sqrt((float64(sumSq) - float64(i)*xBar) / float64(v-1))

	// Step 5. Lower bound X̄' = X̄ - 2.576·σ/sqrt(v); 2 is its least
	// meaningful value.
	xp := xBar - zAlpha*sigma/math.Sqrt(float64(v))
	xp = max(xp, 2)

	r := CollisionResult{
		Estimate:  Estimate{Name: collisionName, Section: collisionSection},
		V:         v,
		SumT:      i,
		XBar:      xBar,
		SigmaHat:  sigma,
		XBarPrime: xp,
	}

	// Steps 6-7. Solve for p, or take p = 1/2 when there is no solution.
	if xp < 2.5 {
		r.P = 0.5 + math.Sqrt(1.25-0.5*xp)
		r.MinEntropy = -math.Log2(r.P)
		r.Found = true
	} else {
		r.P = 0.5
		r.MinEntropy = 1
	}
	return r
}
