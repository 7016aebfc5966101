package engine

import (
	"context"
	"errors"
	"io"
	"log/slog"
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
