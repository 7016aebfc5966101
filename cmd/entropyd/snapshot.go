package main

import (
	"time"

	"github.com/hsmentropy/hsmentropy/health"
	"github.com/hsmentropy/hsmentropy/hsmrand"
	"github.com/hsmentropy/hsmentropy/kernelfeed"
	"github.com/hsmentropy/hsmentropy/mixer"
)

// snapshot is everything the metrics report, copied at scrape time from the
// packages' Stats and the daemon's counters.
type snapshot struct {
	Sources []sourceSnapshot
	// Kernel holds the feeders' counters; KernelFed is false with --no-feed.
	Kernel    kernelfeed.Stats
	KernelFed bool
	// KernelReady tells whether the kernel RNG is ready; KernelReadyKnown
	// whether that could be asked.
	KernelReady, KernelReadyKnown     bool
	FeedsOK, FeedsFailed, FeedsOSOnly uint64
	// LastFeed is the time of the last successful feed; zero if none.
	LastFeed time.Time
	// Mixer holds the mixer's counters, once it exists.
	Mixer   mixer.Stats
	MixerOK bool
	// Ready is what /readyz answers.
	Ready bool
	Now   time.Time
}

// sourceSnapshot is one source's part of a snapshot.
type sourceSnapshot struct {
	Name     string
	State    sourceState
	Counters counterSnapshot
	Health   health.Stats
	// HSM holds hsmrand's counters for the PKCS#11 source; nil otherwise.
	HSM *hsmrand.Stats
}

// snapshot copies the daemon's state for one scrape.
func (d *daemon) snapshot() snapshot {
	s := snapshot{
		FeedsOK: d.fc.ok.Load(), FeedsFailed: d.fc.failed.Load(), FeedsOSOnly: d.fc.osOnly.Load(),
		Now: time.Now(),
	}
	if n := d.fc.lastNanos.Load(); n != 0 {
		s.LastFeed = time.Unix(0, n)
	}
	for _, src := range d.set.all() {
		ss := sourceSnapshot{Name: src.name, State: src.getState(), Counters: src.c.snapshot(), Health: src.tester.Stats()}
		if src.hsm != nil {
			st := src.hsm()
			ss.HSM = &st
		}
		s.Sources = append(s.Sources, ss)
	}
	s.Kernel, s.KernelFed = d.feeders.stats()
	ready, err := kernelfeed.KernelReady()
	s.KernelReady, s.KernelReadyKnown = ready, err == nil
	if d.ready.Load() {
		s.Mixer, s.MixerOK = d.mix.Stats(), true
	}
	s.Ready, _ = d.readiness()
	return s
}
