package mixer

// Stats is a snapshot of a Mixer's counters, all since New.
type Stats struct {
	// Shards is the number of CTR_DRBG instances.
	Shards int
	// Reads counts successful Read and ReadPR calls; BytesServed their bytes.
	Reads       uint64
	BytesServed uint64
	// Generates counts CTR_DRBG Generate requests (buffer refills and
	// direct requests).
	Generates uint64
	// Reseeds counts reseeds of every kind: by policy, for prediction
	// resistance, and from the OS alone. Instantiations are not counted.
	Reseeds uint64
	// PrimaryErrors counts failed reads of the entropy input (the primary,
	// or a ReadPRWith call's Seeding.Entropy), one per decision of the
	// OnPrimaryError hook or of the call's Seeding.
	PrimaryErrors uint64
	// OSOnlySeeds counts instantiations and reseeds whose entropy input
	// came from the OS because the hook (or a ReadPRWith call's
	// Seeding.OnError) chose ContinueOSOnly.
	OSOnlySeeds uint64
	// DegradedShards is the number of shards whose last seeding was
	// OS-only: nonzero means part of the output currently rests on the OS
	// source alone.
	DegradedShards int
	// ReadErrors counts Read and ReadPR calls that failed, other than
	// with ErrClosed.
	ReadErrors uint64
}

// Stats returns a snapshot of the counters. It never waits for a busy
// shard: for a shard locked by a read, Reads and BytesServed include only
// the reads up to its last Generate request (at most about BufferSize
// bytes behind). While reads are in flight the fields are read one by one
// and need not be mutually consistent.
func (m *Mixer) Stats() Stats {
	st := Stats{
		Shards:        len(m.shards),
		PrimaryErrors: m.primaryErrors.Load(),
		OSOnlySeeds:   m.osOnlySeeds.Load(),
		ReadErrors:    m.readErrors.Load(),
	}
	for i := range m.shards {
		s := &m.shards[i]
		if s.mu.TryLock() {
			st.Reads += s.reads
			st.BytesServed += s.served
			s.mu.Unlock()
		} else {
			st.Reads += s.publishedReads.Load()
			st.BytesServed += s.publishedServed.Load()
		}
		st.Generates += s.generates.Load()
		st.Reseeds += s.reseeds.Load()
		if s.degraded.Load() {
			st.DegradedShards++
		}
	}
	return st
}

// publish copies the read counters for Stats.
func (s *shard) publish() {
	s.publishedReads.Store(s.reads)
	s.publishedServed.Store(s.served)
}
