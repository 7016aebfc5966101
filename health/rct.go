package health

import "encoding/binary"

// rctState is the state of the Repetition Count Test, SP 800-90B §4.4.1:
// A, the most recent sample, and B, the length of the run of A that ends
// with it (0 before the first sample). max is the largest B seen.
type rctState struct {
	a   byte
	b   int
	max int
}

// step feeds one sample to the Repetition Count Test, per SP 800-90B
// Section 4.4.1, and reports whether it fails, that is whether B ≥ cutoff.
func (s *rctState) step(x byte, cutoff int) bool {
	if s.b == 0 {
		// Step 1. A = the first sample, B = 1.
		s.a, s.b = x, 1
	} else if x == s.a {
		// Step 2. If the next sample equals A, B = B + 1 ...
		s.b++
	} else {
		// ... else A = the next sample, B = 1.
		s.a, s.b = x, 1
	}
	s.max = max(s.max, s.b)
	// Step 2, continued. If B ≥ C, signal a failure.
	return s.b >= cutoff
}

// scan8 runs the Repetition Count Test over 8-bit samples, stopping after
// the first sample that fails. It returns the number of samples consumed
// and whether the last one failed. cutoff must be at least 2.
//
// Eight samples at a time it checks, without branching per sample, whether
// any sample equals its predecessor; when none does, every run in the word
// ends at length 1, below any cutoff, and only A and B = 1 carry on.
func (s *rctState) scan8(p []byte, cutoff int) (n int, failed bool) {
	if cutoff < 2 {
		panic("health: internal error: RCT cutoff below 2")
	}
	if s.b == 0 {
		if len(p) == 0 {
			return 0, false
		}
		s.step(p[0], cutoff)
		n = 1
	}
	a, b := s.a, s.b
	for n < len(p) {
		if len(p)-n >= 8 {
			x := binary.LittleEndian.Uint64(p[n:])
			// Byte k of y is the sample before byte k of x.
			y := x<<8 | uint64(a)
			if !hasZeroByte(x ^ y) {
				a, b = byte(x>>56), 1
				n += 8
				continue
			}
		}
		x := p[n]
		n++
		if x != a {
			a, b = x, 1
			continue
		}
		b++
		if b > s.max {
			s.max = b
		}
		if b >= cutoff {
			s.a, s.b = a, b
			return n, true
		}
	}
	s.a, s.b = a, b
	return n, false
}

// hasZeroByte reports whether any byte of v is zero.
func hasZeroByte(v uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	return (v-lo)&^v&hi != 0
}
