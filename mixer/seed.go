package mixer

import (
	"fmt"
	"time"
)

// reseedDue reports whether the policy asks for a reseed before a Generate
// request of n bytes. A shard last seeded from the OS alone tries the
// primary again at every request, so it recovers as soon as the primary
// does.
func (m *Mixer) reseedDue(s *shard, n int) bool {
	return s.degraded.Load() ||
		s.calls >= m.cfg.reseedCalls ||
		s.generated+uint64(n) > m.cfg.reseedBytes ||
		(m.cfg.reseedInterval > 0 && time.Since(s.seededAt) >= m.cfg.reseedInterval)
}

// instantiate creates s's CTR_DRBG: entropy input from the primary, then
// SeedLen OS bytes as personalization string, per SP 800-90A Rev. 1,
// Section 10.2.1.3.1.
func (m *Mixer) instantiate(s *shard) error {
	osOnly, err := m.entropyInput(&s.entropy, &m.cfg.seeding)
	if err != nil {
		return err
	}
	defer clear(s.entropy[:])
	if err := m.readOS(&s.input); err != nil {
		return err
	}
	defer clear(s.input[:])
	d, err := NewCTR(s.entropy[:], nil, s.input[:], false)
	if err != nil {
		return fmt.Errorf("mixer: instantiate: %w", err)
	}
	s.drbg = d
	s.seeded(osOnly)
	return nil
}

// reseed reseeds s's CTR_DRBG: entropy input from in's source (the
// primary for the policy's reseeds), then SeedLen OS bytes as additional
// input, per SP 800-90A Rev. 1, Section 10.2.1.4.1. It reports whether the
// entropy input came from the OS alone.
func (m *Mixer) reseed(s *shard, in *Seeding) (osOnly bool, err error) {
	osOnly, err = m.entropyInput(&s.entropy, in)
	if err != nil {
		return false, err
	}
	defer clear(s.entropy[:])
	if err := m.readOS(&s.input); err != nil {
		return false, err
	}
	defer clear(s.input[:])
	if err := s.drbg.Reseed(s.entropy[:], s.input[:]); err != nil {
		return false, fmt.Errorf("mixer: reseed: %w", err)
	}
	s.reseeds.Add(1)
	s.seeded(osOnly)
	return osOnly, nil
}

// seeded restarts the reseed policy's counts after a seeding.
func (s *shard) seeded(osOnly bool) {
	s.seededAt = time.Now()
	s.calls = 0
	s.generated = 0
	s.degraded.Store(osOnly)
}
