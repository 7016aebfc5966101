package engine

import (
	"time"

	"github.com/hsmentropy/hsmentropy/health"
	"github.com/hsmentropy/hsmentropy/hsmrand"
	"github.com/hsmentropy/hsmentropy/kernelfeed"
	"github.com/hsmentropy/hsmentropy/mixer"
)

// Stats is everything the engine reports, copied at once from the
// packages' Stats and the engine's counters.
type Stats struct {
	// Sources are the sources' stats, the OS first.
	Sources []SourceStats
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
	// Ready is what Readiness answers.
	Ready bool
	Now   time.Time
}

// SourceStats is one source's part of Stats.
type SourceStats struct {
	Name     string
	State    State
	Counters Counters
	Health   health.Stats
	// HSM holds hsmrand's counters for an HSMStatser; nil otherwise.
	HSM *hsmrand.Stats
}

// Stats copies the engine's state.
func (e *Engine) Stats() Stats {
	s := Stats{
		FeedsOK: e.fc.ok.Load(), FeedsFailed: e.fc.failed.Load(), FeedsOSOnly: e.fc.osOnly.Load(),
		Now: time.Now(),
	}
	if n := e.fc.lastNanos.Load(); n != 0 {
		s.LastFeed = time.Unix(0, n)
	}
	for _, src := range e.all() {
		ss := SourceStats{Name: src.name, State: src.getState(), Counters: src.c.snapshot(), Health: src.tester.Stats()}
		if src.hsm != nil {
			st := src.hsm.HSMStats()
			ss.HSM = &st
		}
		s.Sources = append(s.Sources, ss)
	}
	s.Kernel, s.KernelFed = e.cfg.Feeders.stats()
	ready, err := kernelfeed.KernelReady()
	s.KernelReady, s.KernelReadyKnown = ready, err == nil
	if e.ready.Load() {
		s.Mixer, s.MixerOK = e.mix.Stats(), true
	}
	s.Ready, _ = e.Readiness()
	return s
}
