package health

import "bytes"

// aptState is the state of the Adaptive Proportion Test, SP 800-90B
// §4.4.2: A, the first sample of the current window; B, the number of
// samples of the window equal to A so far, A itself included; i, the number
// of samples of the window seen (0 when the next sample opens a window).
// max is the largest B seen.
type aptState struct {
	a   byte
	b   int
	i   int
	max int
}

// step feeds one sample to the Adaptive Proportion Test, per SP 800-90B
// Section 4.4.2, with window w, and reports whether it fails.
func (s *aptState) step(x byte, w, cutoff int) bool {
	if s.i == 0 {
		// Step 1. Let A be the current sample value.
		// Step 2. Initialize the counter B to 1.
		s.a, s.b = x, 1
	} else if x == s.a {
		// Step 3. For i = 1 to W-1: if the next sample is equal to A,
		// increment B by 1.
		s.b++
	}
	s.max = max(s.max, s.b)
	s.i++
	if s.i == w {
		// Step 4. Go to Step 1.
		s.i = 0
	}
	// Step 3, continued. If B ≥ C, signal a failure: a sample fails when it
	// is counted in B and B has reached the cutoff, as in jitterentropy.
	return x == s.a && s.b >= cutoff
}

// scan8 runs the Adaptive Proportion Test over 8-bit samples with window w,
// stopping after the first sample that fails. It returns the number of
// samples consumed and whether the last one failed.
//
// Within a window only the samples equal to A matter, so it counts them a
// window segment at a time with bytes.Count and looks at single samples
// only in a segment where B reaches the cutoff.
func (s *aptState) scan8(p []byte, w, cutoff int) (n int, failed bool) {
	var sep [1]byte
	for n < len(p) {
		if s.i == 0 {
			if s.step(p[n], w, cutoff) {
				return n + 1, true
			}
			n++
			continue
		}
		// Step 3, for the rest of the window that lies in p.
		seg := p[n:min(len(p), n+w-s.i)]
		sep[0] = s.a
		c := bytes.Count(seg, sep[:])
		if c == 0 || s.b+c < cutoff {
			s.b += c
			s.max = max(s.max, s.b)
			s.i += len(seg)
			if s.i == w {
				// Step 4.
				s.i = 0
			}
			n += len(seg)
			continue
		}
		// B reaches the cutoff inside seg.
		for _, x := range seg {
			n++
			if s.step(x, w, cutoff) {
				return n, true
			}
		}
		panic("health: internal error: APT count reached no cutoff")
	}
	return n, false
}
