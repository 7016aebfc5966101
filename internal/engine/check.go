package engine

import (
	"context"
	"time"

	"github.com/hsmentropy/hsmentropy/mixer"
)

// Check runs every source's start-up health tests (SP 800-90B §4.3): it
// starts the workers, reads the OS source once, and waits until every other
// source is healthy or failed, or ctx is done. It returns the OS source's
// error; Stats tells the rest. Stop ends the workers.
func (e *Engine) Check(ctx context.Context) (osErr error) {
	go func() {
		for range e.events {
		}
	}()
	e.Start(ctx)
	var seed [mixer.SeedLen]byte
	_, osErr = e.os.Read(seed[:])
	clear(seed[:])
	for _, src := range e.primaries {
		waitSettled(ctx, src)
	}
	return osErr
}

// waitSettled waits until src is healthy or failed, or ctx is done.
func waitSettled(ctx context.Context, src *worker) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if st := src.getState(); st == StateHealthy || st == StateFailed {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
