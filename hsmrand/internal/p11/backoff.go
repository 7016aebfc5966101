package p11

import (
	"math/rand/v2"
	"time"
)

// nextBackoff doubles the previous back-off, from lo up to hi.
func nextBackoff(prev, lo, hi time.Duration) time.Duration {
	if prev < lo {
		return lo
	}
	return min(2*prev, hi)
}

// jitter returns a wait drawn uniformly from [d/2, d], so that processes
// that lost the same HSM at the same moment do not come back in step. The
// draw needs no secrecy: math/rand/v2's generator is enough.
func jitter(d time.Duration) time.Duration {
	half := d / 2
	return half + rand.N(d-half+1)
}
