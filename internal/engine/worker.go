package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hsmentropy/hsmentropy/health"
	"github.com/hsmentropy/hsmentropy/internal/refill"
)

// event tells the engine that a source changed state.
type event struct {
	src      *worker
	from, to State
	// recovered is set when a source that had been healthy is healthy again.
	recovered bool
}

// worker is one source with its own health tester, state, counters and
// buffer of tested bytes.
type worker struct {
	name  string
	src   Source // nil for the OS source, read on demand
	chunk int
	rate  int // bytes per second; 0 means no limit
	// restoreAfter is how long a failed source stays out; 0 means for ever.
	restoreAfter time.Duration

	tester *health.Tester
	ready  *ring
	// inputPerByte is how many bytes of the source's own input stand
	// behind each byte it delivers, at most 1 (Crediter).
	inputPerByte float64
	c            counters
	state        atomic.Int32
	// everHealthy is set once the source has first been healthy.
	everHealthy atomic.Bool
	log         *slog.Logger
	events      chan<- event
	// hsm is src as an HSMStatser; nil otherwise.
	hsm HSMStatser
	// up is src as an Upstream; nil otherwise.
	up Upstream
}

// newWorker returns a source in the degraded state (start-up test pending),
// whose tested bytes wait in a ring of 4 chunks (at least the start-up
// test's length, or the Buffered source's size) for at most ringAge (0: no
// limit).
func newWorker(name string, src Source, chunk, rate int, restoreAfter, ringAge time.Duration, log *slog.Logger, events chan<- event) (*worker, error) {
	t, err := health.NewTester(health.DefaultHSMConfig())
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", name, err)
	}
	size := max(4*chunk, health.StartUpSamples)
	if b, ok := src.(Buffered); ok {
		size = b.RingSize(chunk)
	}
	s := &worker{
		name: name, src: src, chunk: chunk, rate: rate, restoreAfter: restoreAfter,
		tester: t, ready: newRing(size, ringAge), inputPerByte: 1,
		log: log.With("source", name), events: events,
	}
	if c, ok := src.(Crediter); ok {
		s.inputPerByte = c.InputPerByte(chunk)
	}
	s.hsm, _ = src.(HSMStatser)
	if s.up, _ = src.(Upstream); s.up != nil {
		s.up.WatchUpstream(s.upstreamChanged)
	}
	return s, nil
}

// upstreamChanged follows the upstream's state: it runs in the upstream's
// hook (hsmrand's, with its locks held), so it only swaps atomics and
// signals.
func (s *worker) upstreamChanged(up bool, state string, cause error) {
	switch st := s.getState(); {
	case !up && st == StateHealthy:
		msg := "the token is not delivering; going on with the other sources"
		if cause != nil {
			s.log.Warn(msg, "state", state, "err", cause)
		} else {
			s.log.Warn(msg, "state", state)
		}
		s.setState(StateReconnecting)
	case up && st == StateReconnecting && s.tester.State() == health.Operational:
		s.log.Info("the token is delivering again")
		s.setState(StateHealthy)
	}
}

func (s *worker) getState() State { return State(s.state.Load()) }

// setState moves the source to st and tells the daemon.
func (s *worker) setState(st State) {
	old := State(s.state.Swap(int32(st)))
	if old == st {
		return
	}
	if st == StateFailed {
		s.ready.discard() // tested before the failure, but not used after it
	} else {
		s.ready.poke() // a feed waiting for this source's bytes looks again
	}
	ev := event{src: s, from: old, to: st}
	if st == StateHealthy {
		ev.recovered = s.everHealthy.Swap(true)
	}
	select {
	case s.events <- ev:
	default:
		s.log.Warn("event queue full; state change not signalled", "state", st)
	}
}

// run reads the source until ctx is done, reopening it after errors and
// restoring it after a permanent health failure.
func (s *worker) run(ctx context.Context) {
	backoff := minBackoff
	for ctx.Err() == nil {
		r, err := s.src.Open(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.c.fail(err)
			if errors.Is(err, ErrExhausted) {
				s.fail(ctx, err)
				return
			}
			s.log.Warn("cannot open source; retrying", "err", err, "in", backoff)
			s.setState(StateReconnecting)
			if !s.wait(ctx, &backoff) {
				return
			}
			continue
		}
		// Closing interrupts a blocked read of a FIFO (not of every device).
		stop := context.AfterFunc(ctx, func() { r.Close() })
		err = s.readLoop(ctx, r, &backoff)
		if stop() {
			r.Close()
		}
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, ErrExhausted):
			s.fail(ctx, err)
			return
		case errors.Is(err, health.ErrPermanent):
			if !s.fail(ctx, err) {
				return
			}
		default:
			s.c.fail(err)
			if s.up != nil {
				s.log.Warn("read failed; waiting for the token to deliver again", "err", err)
			} else {
				s.log.Warn("read failed; reopening the source", "err", err, "in", backoff)
			}
			s.setState(StateReconnecting)
			if !s.wait(ctx, &backoff) {
				return
			}
		}
	}
}

// wait waits before the source is opened again: until hsmrand has the
// token back, for the PKCS#11 source, else for the back-off, which it
// doubles. It reports whether ctx is still live.
func (s *worker) wait(ctx context.Context, backoff *time.Duration) bool {
	if s.up != nil {
		return s.up.WaitUpstream(ctx)
	}
	if !refill.Sleep(ctx, *backoff) {
		return false
	}
	*backoff = min(2**backoff, maxBackoff)
	return true
}

// fail takes the source out of service and, for a health failure with
// restoreAfter set, waits that long and restores its tester for a new
// start-up test. It reports whether the source is back.
func (s *worker) fail(ctx context.Context, err error) bool {
	s.log.Error("source taken out of service; going on with the others", "err", err)
	s.setState(StateFailed)
	if s.restoreAfter == 0 || errors.Is(err, ErrExhausted) {
		<-ctx.Done()
		return false
	}
	if !refill.Sleep(ctx, s.restoreAfter) {
		return false
	}
	s.log.Info("restoring the source: new start-up test")
	s.tester.Restore()
	s.setState(StateDegraded)
	return true
}

const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// readLoop reads chunks at the configured rate, tests them and keeps the
// usable bytes, until an error.
func (s *worker) readLoop(ctx context.Context, r io.Reader, backoff *time.Duration) error {
	buf := make([]byte, s.chunk)
	defer clear(buf)
	var interval time.Duration
	if s.rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(s.chunk) / float64(s.rate))
	}
	next := time.Now()
	for {
		if err := s.ready.waitFree(ctx, s.chunk); err != nil {
			return err
		}
		if d := time.Until(next); d > 0 && !refill.Sleep(ctx, d) {
			return ctx.Err()
		}
		start := time.Now()
		n, err := r.Read(buf)
		s.c.observe(n, time.Since(start))
		next = start.Add(interval * time.Duration(n) / time.Duration(s.chunk))
		if n > 0 {
			if terr := s.test(buf[:n]); terr != nil {
				return terr
			}
			*backoff = minBackoff
		}
		clear(buf[:n])
		if err != nil {
			return err
		}
	}
}

// test runs the health tests on a block, keeps its usable part and moves the
// source between states. It returns a permanent failure.
func (s *worker) test(block []byte) error {
	usable, err := s.check(block)
	if err != nil {
		return err
	}
	s.ready.put(usable)
	return nil
}

// check runs the health tests on a block and moves the source between
// states: an intermittent failure makes it degraded (the block is discarded
// and the start-up test runs again on what follows), passing tests with an
// operational tester (and, for an Upstream, a healthy upstream) healthy.
// It returns the block's usable part, and a permanent failure, which the
// caller acts on.
func (s *worker) check(block []byte) ([]byte, error) {
	usable, verdict, err := refill.Check(s.tester, block)
	switch verdict {
	case refill.Permanent:
		return nil, err
	case refill.Intermittent:
		var f *health.Failure
		if !errors.As(err, &f) {
			return nil, err
		}
		s.log.Warn("intermittent health test failure; block discarded, start-up test again", "test", f.Test.String(), "count", f.Count, "cutoff", f.Cutoff)
		s.setState(StateDegraded)
		return nil, nil
	case refill.Up:
		if s.up == nil || s.up.UpstreamHealthy() {
			s.setState(StateHealthy)
		}
	}
	return usable, nil
}
