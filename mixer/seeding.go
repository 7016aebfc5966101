package mixer

import "io"

// Seeding chooses, for one call of [Mixer.ReadPRWith], where the entropy
// input of its reseeds comes from and what happens when that source fails.
// The zero Seeding reads the primary and never falls back to the OS.
type Seeding struct {
	// Entropy supplies the entropy input: SeedLen bytes per reseed, read
	// with io.ReadFull by this call alone, while its shard is locked. nil
	// means Config.Primary, read one caller at a time as for every other
	// seeding. The bytes are never output; the Mixer wipes its copy of
	// them once consumed, and the caller must give no byte to two calls
	// (or to the primary too), as the Mixer gives no primary byte to two
	// shards.
	Entropy io.Reader

	// OnError decides, as Config.OnPrimaryError does for the seedings of
	// Read, when reading the entropy input fails. nil means always Fail:
	// the call's output then never rests on the OS alone, whatever
	// Config.OnPrimaryError would have decided.
	OnError func(err error) Decision
}

// decide is in's decision on a failure of its entropy source.
func (in *Seeding) decide(err error) Decision {
	if in.OnError == nil {
		return Fail
	}
	return in.OnError(err)
}

// ReadPRWith is [Mixer.ReadPR] with the entropy input of this call's
// reseeds chosen by in, per SP 800-90A Rev. 1, Section 9.3.1 with
// prediction_resistance_request set: before each Generate request (at most
// MaxRequest bytes) the shard is reseeded (Section 10.2.1.4.1) with
// entropy_input = SeedLen bytes from in's source and additional_input =
// SeedLen fresh OS bytes, then generates straight into p with no
// additional input. ReadPR is ReadPRWith with Entropy nil and OnError
// Config.OnPrimaryError.
//
// It fills p and returns the number of the call's reseeds whose entropy
// input came from the OS alone because in.OnError chose ContinueOSOnly (0
// with the zero Seeding): each Generate request of a call that returns 0
// followed a reseed from in's source. On error it returns 0 and leaves p
// zeroed; the error is as for Read.
//
// This decision per call is what lets a caller promise more for some
// reads than the Mixer's policy does for all: hsmrand's GetRandom fails
// rather than serve output seeded from the OS alone, and with live entropy
// passes, as Entropy, bytes it drew from the HSM during the call.
func (m *Mixer) ReadPRWith(p []byte, in Seeding) (osOnly int, err error) {
	s := m.acquire()
	osOnly, err = m.readPR(s, p, &in)
	if err == nil {
		s.reads++
		s.served += uint64(len(p))
	}
	m.release(s)
	if _, err := m.result(len(p), err); err != nil {
		return 0, err
	}
	return osOnly, nil
}
