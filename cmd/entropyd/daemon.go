package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hsmentropy/hsmentropy/mixer"
)

// stopBudget bounds the shutdown: SIGTERM to exit within 5 s, with margin.
const stopBudget = 3 * time.Second

// errAllFailed is returned when every source has failed (exit status 1;
// rngd exits 0 there, we do not).
var errAllFailed = errors.New("every source has failed")

// daemon is one configuration's running entropyd: reloading builds a new one.
type daemon struct {
	cfg     *runConfig
	log     *slog.Logger
	set     *sourceSet
	prim    *primary
	mix     *mixer.Mixer
	feeders *feeders
	fc      feedCounters
	events  chan event
	ready   atomic.Bool
	started time.Time
}

// runRun is entropyd run: it loads the configuration, runs the daemon, and
// runs it again with the new configuration on SIGHUP.
func runRun(ctx context.Context, s streams, args []string) error {
	cfg, _, err := loadConfig("run", args, os.LookupEnv, s.stdout)
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		log := newLogger(s.stderr, cfg.logFormat, cfg.logLevel)
		next, err := serve(ctx, cfg, log, hup, func() (*runConfig, error) {
			c, _, err := loadConfig("run", args, os.LookupEnv, s.stderr)
			return c, err
		})
		if next == nil {
			return err
		}
		log.Info("configuration reloaded")
		cfg = next
	}
}

// serve runs the daemon for cfg until ctx is done (nil, nil), every source
// has failed (nil, errAllFailed), or SIGHUP brings a valid new configuration
// (it, nil).
func serve(ctx context.Context, cfg *runConfig, log *slog.Logger, hup <-chan os.Signal, reload func() (*runConfig, error)) (*runConfig, error) {
	d := &daemon{cfg: cfg, log: log, events: make(chan event, 64), started: time.Now()}
	var err error
	if d.feeders, err = openFeeders(cfg); err != nil {
		return nil, err
	}
	defer d.feeders.close()

	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		start := time.Now()
		waitWithin(&wg, stopBudget)
		// The sources close after the workers, which read through them,
		// within what is left of the budget.
		left := max(stopBudget-time.Since(start), stopBudget/4)
		if d.set != nil && !d.set.closeWithin(left) {
			log.Warn("a source did not close in time (an HSM call in flight has not returned); leaving it behind", "waited", left)
		}
	}()
	if d.set, err = newSourceSet(wctx, cfg, log, d.events); err != nil {
		return nil, err
	}
	stopHTTP, err := d.startHTTP(cfg.listen)
	if err != nil {
		return nil, err
	}
	defer stopHTTP()
	log.Info("starting", "version", version(), "sources", d.set.String(), "listen", cfg.listen, "dry_run", cfg.noFeed)
	if note := cfg.noHSMNote(); note != "" {
		log.Warn(note)
	}
	for _, s := range d.set.primaries {
		wg.Go(func() { s.run(wctx) })
	}

	d.waitStartUp(ctx)
	d.prim = &primary{ctx: wctx, sources: d.set.primaries, timeout: cfg.sourceTimeout}
	d.mix, err = mixer.New(mixer.Config{
		Primary: d.prim, OS: d.set.os, Shards: 1, ReseedInterval: -1,
		BufferSize: mixer.BlockLen, PredictionResistance: true, OnPrimaryError: d.onPrimaryError,
	})
	if err != nil {
		return nil, d.failedStart(err)
	}
	defer d.mix.Close()
	if err := d.feed("start"); err != nil {
		return nil, d.failedStart(err)
	}
	d.ready.Store(true)
	if cfg.once {
		return nil, nil
	}
	notify(log, "READY=1\nSTATUS=feeding the kernel")
	return d.loop(ctx, hup, reload)
}

// failedStart words a failure before the first feed.
func (d *daemon) failedStart(err error) error {
	if d.set.allFailed() {
		return fmt.Errorf("%w: %w", errAllFailed, err)
	}
	return err
}

// waitStartUp waits until a primary source is healthy, every one has failed,
// or --startup-timeout has passed.
func (d *daemon) waitStartUp(ctx context.Context) {
	if len(d.set.primaries) == 0 {
		return
	}
	t := time.NewTimer(d.cfg.startupTimeout)
	defer t.Stop()
	for !d.set.anyHealthy() && !d.set.allPrimariesFailed() {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.log.Warn("no source passed its start-up tests in time", "timeout", d.cfg.startupTimeout)
			return
		case ev := <-d.events:
			d.logEvent(ev)
			if ev.to == stateHealthy && ev.src != d.set.os.src {
				return // even if it has moved on since: its bytes are kept
			}
		}
	}
}

// loop feeds on the period and after a recovery, until ctx is done, every
// source has failed, or SIGHUP brings a new configuration.
func (d *daemon) loop(ctx context.Context, hup <-chan os.Signal, reload func() (*runConfig, error)) (*runConfig, error) {
	tick := time.NewTicker(d.cfg.feedInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			d.log.Info("stopping", "reason", context.Cause(ctx))
			notify(d.log, "STOPPING=1")
			return nil, nil
		case <-hup:
			notify(d.log, "RELOADING=1")
			next, err := reload()
			if err != nil {
				d.log.Error("SIGHUP: configuration not reloaded, keeping the old one", "err", err)
				notify(d.log, "READY=1")
				continue
			}
			return next, nil
		case <-tick.C:
			d.feedAndLog("period")
		case ev := <-d.events:
			d.logEvent(ev)
			if d.set.allFailed() {
				notify(d.log, "STATUS=every source has failed")
				return nil, errAllFailed
			}
			if ev.recovered {
				d.feedAndLog("recovery")
			}
		}
	}
}

func (d *daemon) feedAndLog(reason string) {
	if err := d.feed(reason); err != nil {
		d.log.Error("feed failed", "reason", reason, "err", err)
	}
}

// logEvent logs a state change.
func (d *daemon) logEvent(ev event) {
	lvl := slog.LevelInfo
	if ev.to == stateFailed || ev.to == stateReconnecting {
		lvl = slog.LevelWarn
	}
	d.log.Log(context.Background(), lvl, "source state changed", "source", ev.src.name, "from", ev.from.String(), "to", ev.to.String())
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
