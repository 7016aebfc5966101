package main

import (
	"context"
	"errors"
	"time"

	"github.com/hsmentropy/hsmentropy/mixer"
)

// errNoSource is the primary's error when no source delivered.
var errNoSource = errors.New("no healthy source delivered")

// primary is the mixer's primary input: the XOR of equal-length blocks of
// tested bytes, one from every source that delivers within the timeout.
// If the sources are independent, the XOR has at least the min-entropy of
// the strongest of them, by the argument of package mixer's documentation
// (Security argument), applied source by source.
type primary struct {
	ctx     context.Context
	sources []*source
	timeout time.Duration
	scratch [mixer.SeedLen]byte
	// contributors names the sources of the last Read, in order.
	contributors []string
	// creditable adds up, over every Read, the bytes of source input that
	// can be credited: for each block, the largest of the contributors'
	// (bytes taken × inputPerByte). The XOR of independent blocks has at
	// least the min-entropy of the strongest, and no more can be claimed
	// without assuming more about the sources. Read only by the feed,
	// which runs in the goroutine that calls the mixer.
	creditable float64
}

// Read fills p, at most mixer.SeedLen bytes at a time. The mixer serializes
// its calls.
func (m *primary) Read(p []byte) (int, error) {
	clear(p)
	for off := 0; off < len(p); off += len(m.scratch) {
		chunk := p[off:min(len(p), off+len(m.scratch))]
		m.contributors = m.contributors[:0]
		strongest := 0.0
		for _, s := range m.sources {
			b := m.scratch[:len(chunk)]
			alive := func() bool { return s.getState() == stateHealthy }
			d := m.timeout
			if !alive() {
				d = 0 // take only what a source not healthy now already holds
			}
			if !s.ready.takeWithin(m.ctx, b, d, alive) {
				continue
			}
			for i := range chunk {
				chunk[i] ^= b[i]
			}
			clear(b)
			s.c.used.Add(uint64(len(b)))
			m.contributors = append(m.contributors, s.name)
			strongest = max(strongest, float64(len(b))*s.inputPerByte)
		}
		if len(m.contributors) == 0 {
			clear(p)
			return 0, errNoSource
		}
		m.creditable += strongest
	}
	return len(p), nil
}
