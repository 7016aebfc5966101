package engine

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hsmentropy/hsmentropy/mixer"
)

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
