package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hsmentropy/hsmentropy/mixer"
)

// stopBudget bounds Stop: SIGTERM to exit within 5 s, with margin.
const stopBudget = 3 * time.Second

// ErrAllFailed is returned when every source has failed.
var ErrAllFailed = errors.New("every source has failed")

// Spec is one source as configured.
type Spec struct {
	Source Source
	// Chunk is the bytes per read, 1 to MaxChunk.
	Chunk int
	// Rate is the bytes read per second; 0 means no limit.
	Rate int
}

// Config configures an Engine. The engine neither keeps nor changes it.
type Config struct {
	// Sources are read by their own workers, in this order; the OS source
	// is always there besides them.
	Sources []Spec
	// UseOS counts the OS as a source: with no other source delivering,
	// the mixer is seeded from the OS alone and the feed is uncredited.
	UseOS bool
	// Feeders feed the kernel; nil is a dry run (--no-feed).
	Feeders *Feeders
	// FeedInterval is the feed period, and the longest any source's tested
	// bytes wait for a feed.
	FeedInterval time.Duration
	// FeedBytes is the bytes fed per feed; CreditBits the credit per byte.
	FeedBytes  int
	CreditBits float64
	// StartupTimeout bounds the wait for a first healthy source;
	// SourceTimeout a feed's wait for a healthy source's bytes;
	// RestoreAfter how long a failed source stays out (0: for ever).
	StartupTimeout, SourceTimeout, RestoreAfter time.Duration
	Log                                         *slog.Logger
}

// Engine reads the sources, health-tests them, mixes them and feeds the
// kernel. One Engine serves one configuration: reloading builds a new one.
type Engine struct {
	cfg       Config
	log       *slog.Logger
	os        *osSource
	primaries []*worker
	events    chan event

	cancel context.CancelFunc
	wg     sync.WaitGroup

	prim  *primary
	mix   *mixer.Mixer
	fc    feedCounters
	ready atomic.Bool
}

// New returns an Engine for cfg; its sources are not read until Start.
func New(cfg Config) (*Engine, error) {
	e := &Engine{cfg: cfg, log: cfg.Log, events: make(chan event, 64)}
	var err error
	if e.os, err = newOSSource(cfg.RestoreAfter, e.log, e.events); err != nil {
		return nil, err
	}
	for _, sp := range cfg.Sources {
		// A source's tested bytes wait at most one feed interval for a feed.
		w, err := newWorker(sp.Source.Name(), sp.Source, sp.Chunk, sp.Rate, cfg.RestoreAfter, cfg.FeedInterval, e.log, e.events)
		if err != nil {
			return nil, err
		}
		e.primaries = append(e.primaries, w)
	}
	return e, nil
}

// Start starts the sources' workers; they run until Stop or ctx ends.
func (e *Engine) Start(ctx context.Context) {
	ctx, e.cancel = context.WithCancel(ctx)
	e.prim = &primary{ctx: ctx, sources: e.primaries, timeout: e.cfg.SourceTimeout}
	for _, s := range e.primaries {
		e.wg.Go(func() { s.run(ctx) })
	}
}

// Stop stops the workers, waiting for them at most a budget, and closes the
// sources (Closers) after them, which they read through, within what is
// left of it. It reports whether every source closed in time.
func (e *Engine) Stop() bool {
	if e.mix != nil {
		e.mix.Close()
	}
	if e.cancel != nil {
		e.cancel()
	}
	start := time.Now()
	waitWithin(&e.wg, stopBudget)
	left := max(stopBudget-time.Since(start), stopBudget/4)
	if !e.closeWithin(left) {
		e.log.Warn("a source did not close in time (an HSM call in flight has not returned); leaving it behind", "waited", left)
		return false
	}
	return true
}

// Close releases what the sources hold open (Closers), without a bound:
// for an Engine never started.
func (e *Engine) Close() {
	for _, s := range e.primaries {
		if c, ok := s.src.(io.Closer); ok {
			c.Close()
		}
	}
}

// closeWithin is Close bounded by d: closing a PKCS#11 source waits for a
// C_GenerateRandom call in flight (PKCS#11 forbids closing a session or
// finalising under one), and a hung HSM may never return it. It reports
// whether every source closed; if not, the close goes on in the background
// and the process may exit without it.
func (e *Engine) closeWithin(d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		e.Close()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// Begin waits for the start-up tests (StartupTimeout), starts the mixer and
// makes the first feed. The Engine is ready after it.
func (e *Engine) Begin(ctx context.Context) error {
	e.waitStartUp(ctx)
	var err error
	e.mix, err = mixer.New(mixer.Config{
		Primary: e.prim, OS: e.os, Shards: 1, ReseedInterval: -1,
		BufferSize: mixer.BlockLen, PredictionResistance: true, OnPrimaryError: e.onPrimaryError,
	})
	if err != nil {
		return e.failedStart(err)
	}
	if err := e.feed("start"); err != nil {
		return e.failedStart(err)
	}
	e.ready.Store(true)
	return nil
}

// failedStart words a failure before the first feed.
func (e *Engine) failedStart(err error) error {
	if e.AllFailed() {
		return fmt.Errorf("%w: %w", ErrAllFailed, err)
	}
	return err
}

// waitStartUp waits until a primary source is healthy, every one has failed,
// or StartupTimeout has passed.
func (e *Engine) waitStartUp(ctx context.Context) {
	if len(e.primaries) == 0 {
		return
	}
	t := time.NewTimer(e.cfg.StartupTimeout)
	defer t.Stop()
	for !e.anyHealthy() && !e.allPrimariesFailed() {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.log.Warn("no source passed its start-up tests in time", "timeout", e.cfg.StartupTimeout)
			return
		case ev := <-e.events:
			e.logEvent(ev)
			if ev.to == StateHealthy && ev.src != e.os.src {
				return // even if it has moved on since: its bytes are kept
			}
		}
	}
}

// Run feeds on the period and after a recovery, until ctx is done (nil) or
// every source has failed (ErrAllFailed).
func (e *Engine) Run(ctx context.Context) error {
	tick := time.NewTicker(e.cfg.FeedInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			e.feedAndLog("period")
		case ev := <-e.events:
			e.logEvent(ev)
			if e.AllFailed() {
				return ErrAllFailed
			}
			if ev.recovered {
				e.feedAndLog("recovery")
			}
		}
	}
}

func (e *Engine) feedAndLog(reason string) {
	if err := e.feed(reason); err != nil {
		e.log.Error("feed failed", "reason", reason, "err", err)
	}
}

// logEvent logs a state change.
func (e *Engine) logEvent(ev event) {
	lvl := slog.LevelInfo
	if ev.to == StateFailed || ev.to == StateReconnecting {
		lvl = slog.LevelWarn
	}
	e.log.Log(context.Background(), lvl, "source state changed", "source", ev.src.name, "from", ev.from.String(), "to", ev.to.String())
}

// waitWithin waits for wg at most d: a worker blocked in a device read that
// cannot be interrupted is left behind at exit.
func waitWithin(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// all returns every source, the OS first.
func (e *Engine) all() []*worker {
	return append([]*worker{e.os.src}, e.primaries...)
}

// AllFailed reports whether every source that counts has failed.
func (e *Engine) AllFailed() bool {
	return e.allPrimariesFailed() && (!e.cfg.UseOS || e.os.src.getState() == StateFailed)
}

// allPrimariesFailed reports whether every primary has failed.
func (e *Engine) allPrimariesFailed() bool {
	for _, p := range e.primaries {
		if p.getState() != StateFailed {
			return false
		}
	}
	return true
}

// anyHealthy reports whether a primary is healthy.
func (e *Engine) anyHealthy() bool {
	for _, p := range e.primaries {
		if p.getState() == StateHealthy {
			return true
		}
	}
	return false
}

// String lists the sources' names, the OS first, separated by commas.
func (e *Engine) String() string {
	var names []string
	for _, p := range e.all() {
		names = append(names, p.name)
	}
	return strings.Join(names, ",")
}

// Readiness reports whether the engine is doing what it is configured for:
// the first feed is done, a source is usable, and, when HSM sources
// (HSMStatser) are configured, at least one of them is healthy. While every
// HSM source is down the kernel is still fed (from the other sources, or
// uncredited from the OS alone), but not with the HSM's randomness, which is
// what the operator deployed entropyd for. The reason names each HSM
// source's state and last error.
func (e *Engine) Readiness() (bool, string) {
	if !e.ready.Load() {
		return false, "the first feed has not happened"
	}
	var hsm []string
	for _, s := range e.primaries {
		if s.hsm == nil {
			continue
		}
		if s.getState() == StateHealthy {
			hsm = nil
			break
		}
		why := s.name + " is " + s.getState().String()
		if err := s.hsm.HSMStats().LastError; err != "" {
			why += ": " + err
		}
		hsm = append(hsm, why)
	}
	switch {
	case len(hsm) > 0:
		return false, "every HSM source is down (" + strings.Join(hsm, "; ") + "); feeding the kernel without the HSM"
	case !e.anyHealthy() && !(e.cfg.UseOS && e.os.src.getState() != StateFailed):
		return false, "no healthy source"
	}
	return true, ""
}
