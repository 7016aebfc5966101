package health

// Stats is a snapshot of a Tester's counters since NewTester.
type Stats struct {
	State State
	// Samples is the number of samples tested.
	Samples int64
	// StartUps counts start-up tests begun: the first, one after each
	// intermittent failure and one after each Restore.
	StartUps int64
	// Restores counts calls to Restore.
	Restores int64
	// RCT and APT are the two tests' failures and margins.
	RCT, APT Counts
}

// Counts describes one test's failures and how close the source has run
// to its cutoffs.
type Counts struct {
	// Intermittent and Permanent count the failures reported for this test,
	// an escalated failure as Permanent.
	Intermittent, Permanent int64
	// Max is the largest count seen: the longest run (RCT) or the most
	// occurrences of a window's first sample in its window (APT).
	Max int
	// Cutoff and PermanentCutoff are the test's cutoffs.
	Cutoff, PermanentCutoff int
}

// Proximity returns Max/Cutoff: how close the source has come to an
// intermittent failure, 1 or more once it has had one.
func (s Counts) Proximity() float64 {
	if s.Cutoff == 0 {
		return 0
	}
	return float64(s.Max) / float64(s.Cutoff)
}

// Stats returns a snapshot of t's counters.
func (t *Tester) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stats
	s.State = t.state
	s.RCT.Max, s.APT.Max = t.rct.max, t.apt.max
	return s
}
