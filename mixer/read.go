package mixer

import (
	"errors"
	"fmt"
)

// read fills p from s: from the buffer when p is shorter than it,
// otherwise straight from Generate requests. On error p is zeroed.
func (m *Mixer) read(s *shard, p []byte) error {
	if s.drbg == nil {
		return ErrClosed
	}
	if len(p) >= len(s.buf) {
		for q := p; len(q) > 0; {
			n := min(len(q), MaxRequest)
			if err := m.generate(s, q[:n]); err != nil {
				clear(p)
				return err
			}
			q = q[n:]
		}
		return nil
	}
	for q := p; len(q) > 0; {
		if s.off == len(s.buf) {
			if err := m.generate(s, s.buf); err != nil {
				clear(p)
				return err
			}
			s.off = 0
		}
		// Serve and wipe: no byte is ever served twice or left behind.
		n := copy(q, s.buf[s.off:])
		clear(s.buf[s.off : s.off+n])
		s.off += n
		q = q[n:]
	}
	return nil
}

// readPR fills p with prediction resistance: a reseed from in's source
// before every Generate request. It returns the number of reseeds that
// used the OS alone. On error p is zeroed.
func (m *Mixer) readPR(s *shard, p []byte, in *Seeding) (osOnly int, err error) {
	if s.drbg == nil {
		return 0, ErrClosed
	}
	for q := p; len(q) > 0; {
		n := min(len(q), MaxRequest)
		os, err := m.generatePR(s, q[:n], in)
		if err != nil {
			clear(p)
			return 0, err
		}
		if os {
			osOnly++
		}
		q = q[n:]
	}
	return osOnly, nil
}

// generate runs one Generate request with fresh OS bytes as additional
// input, reseeding first when the policy says so.
func (m *Mixer) generate(s *shard, out []byte) error {
	if m.reseedDue(s, len(out)) {
		if _, err := m.reseed(s, &m.cfg.seeding); err != nil {
			return err
		}
	}
	for retried := false; ; retried = true {
		// Per SP 800-90A Rev. 1, Section 10.2.1.5.1, Step 2: the
		// additional input is XORed into the state before any output.
		if err := m.readOS(&s.input); err != nil {
			return err
		}
		err := s.drbg.Generate(out, s.input[:])
		clear(s.input[:])
		if err == nil {
			break
		}
		if retried || !errors.Is(err, ErrReseedRequired) {
			return fmt.Errorf("mixer: generate: %w", err)
		}
		// Section 9.3.1, Steps 6-7: reseed, then run the request again.
		if _, err := m.reseed(s, &m.cfg.seeding); err != nil {
			return err
		}
	}
	s.calls++
	s.generated += uint64(len(out))
	s.generates.Add(1)
	s.publish()
	return nil
}

// generatePR is the Generate function with prediction_resistance_request
// set, per SP 800-90A Rev. 1, Section 9.3.1. It reports whether the reseed
// used the OS alone.
func (m *Mixer) generatePR(s *shard, out []byte, in *Seeding) (osOnly bool, err error) {
	// Step 7.1. Reseed with entropy input from in's source and SeedLen
	// fresh OS bytes as additional input.
	if osOnly, err = m.reseed(s, in); err != nil {
		return false, err
	}
	// Step 7.3. additional_input = Null: this request's OS bytes went
	// into the reseed.
	if err := s.drbg.Generate(out, nil); err != nil {
		return false, fmt.Errorf("mixer: generate: %w", err)
	}
	s.calls++
	s.generated += uint64(len(out))
	s.generates.Add(1)
	s.publish()
	return osOnly, nil
}
