package mixer

import (
	"fmt"
	"io"
	"strconv"
)

// Decision is what [Config.OnPrimaryError] asks the Mixer to do when the
// primary source fails to deliver the entropy input of an instantiation
// or a reseed.
type Decision int

const (
	// Fail abandons the instantiation or reseed: New, or the Read that
	// needed it, returns an error wrapping ErrPrimary and the primary's
	// error; a failed Read returns 0 bytes and leaves p zeroed. Fail is not
	// sticky: the shard keeps its old state, unused, and the next Read that
	// lands on it tries the primary again. A caller that wants a permanent
	// failure closes the Mixer.
	Fail Decision = iota

	// Retry reads the primary again at once and calls the hook again if
	// that fails too. A hook that waits (for a back-off, a reconnection, a
	// context) before returning Retry makes the Read block for as long;
	// the shard stays locked meanwhile and reads go to the other shards
	// until they too need the primary. A hook that returns Retry without
	// waiting spins on the primary. Close interrupts the loop between
	// attempts, and the Read then returns ErrClosed.
	Retry

	// ContinueOSOnly seeds from the OS alone: the entropy input is SeedLen
	// fresh OS bytes, followed by a further SeedLen OS bytes as
	// personalization string or additional input as usual. This is a
	// proper seeding, as strong as the OS source; it is counted in
	// Stats.OSOnlySeeds and the shard is reported in Stats.DegradedShards
	// until a later reseed from the primary succeeds.
	ContinueOSOnly
)

// String returns the constant's name.
func (d Decision) String() string {
	switch d {
	case Fail:
		return "Fail"
	case Retry:
		return "Retry"
	case ContinueOSOnly:
		return "ContinueOSOnly"
	}
	return "Decision(" + strconv.Itoa(int(d)) + ")"
}

// entropyInput fills dst with the entropy input of a seeding: bytes from
// in's source (the primary when in.Entropy is nil), or OS bytes if in's
// decision is ContinueOSOnly. It reports whether the OS stood in for the
// source.
func (m *Mixer) entropyInput(dst *[SeedLen]byte, in *Seeding) (osOnly bool, err error) {
	for {
		perr := m.readEntropy(dst, in.Entropy)
		if perr == nil {
			return false, nil
		}
		clear(dst[:])
		m.primaryErrors.Add(1)
		switch d := in.decide(perr); d {
		case Fail:
			return false, fmt.Errorf("%w: %w", ErrPrimary, perr)
		case Retry:
			if m.closed.Load() {
				return false, ErrClosed
			}
		case ContinueOSOnly:
			if err := m.readOS(dst); err != nil {
				return false, err
			}
			m.osOnlySeeds.Add(1)
			return true, nil
		default:
			return false, fmt.Errorf("%w: %w (OnError returned unknown %v)", ErrPrimary, perr, d)
		}
	}
}

// readEntropy reads SeedLen bytes from src, or from the primary when src is
// nil.
func (m *Mixer) readEntropy(dst *[SeedLen]byte, src io.Reader) error {
	if src == nil {
		return m.readPrimary(dst)
	}
	_, err := io.ReadFull(src, dst[:])
	return err
}

// readPrimary reads SeedLen bytes from the primary, one caller at a time,
// so that no two shards can ever be given the same primary bytes.
func (m *Mixer) readPrimary(dst *[SeedLen]byte) error {
	m.primaryMu.Lock()
	defer m.primaryMu.Unlock()
	_, err := io.ReadFull(m.cfg.primary, dst[:])
	return err
}

// readOS reads SeedLen bytes from the OS source.
func (m *Mixer) readOS(dst *[SeedLen]byte) error {
	if _, err := io.ReadFull(m.cfg.os, dst[:]); err != nil {
		clear(dst[:])
		return fmt.Errorf("mixer: OS source: %w", err)
	}
	return nil
}
