package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/hsmentropy/hsmentropy/hsmrand"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hsmentropy/hsmentropy/health"
)

// maxChunk bounds a source's read size: the cap of one PKCS#11 call (64 KiB).
const maxChunk = hsmrand.MaxHSMRequest

// sourceState is where a source stands.
type sourceState int32

const (
	// stateDegraded: the start-up test runs (at start, after an intermittent
	// failure or a restore); no byte is used until it passes.
	stateDegraded sourceState = iota
	// stateHealthy: the source passes its health tests and its bytes are used.
	stateHealthy
	// stateFailed: a permanent health failure, or a source that cannot
	// deliver again (a used-up file); it is out of service.
	stateFailed
	// stateReconnecting: a read or open failed; the source is reopened with
	// a back-off.
	stateReconnecting
)

// states lists the states in metric order.
var states = []sourceState{stateHealthy, stateDegraded, stateFailed, stateReconnecting}

func (s sourceState) String() string {
	switch s {
	case stateHealthy:
		return "healthy"
	case stateDegraded:
		return "degraded"
	case stateFailed:
		return "failed"
	case stateReconnecting:
		return "reconnecting"
	}
	return fmt.Sprintf("sourceState(%d)", int32(s))
}

// errExhausted reports a source that has nothing more to give.
var errExhausted = errors.New("source used up")

// opener opens a source's byte stream. The worker calls it again after a read
// error; an error wrapping errExhausted takes the source out for good.
type opener func(ctx context.Context) (io.ReadCloser, error)

// event tells the daemon that a source changed state.
type event struct {
	src      *source
	from, to sourceState
	// recovered is set when a source that had been healthy is healthy again.
	recovered bool
}

// source is one entropy source with its own health tester, state, counters
// and buffer of tested bytes.
type source struct {
	name  string
	open  opener
	chunk int
	rate  int // bytes per second; 0 means no limit
	// restoreAfter is how long a failed source stays out; 0 means for ever.
	restoreAfter time.Duration

	tester *health.Tester
	ready  *ring
	// inputPerByte is how many bytes of the source's own input stand
	// behind each byte it delivers, at most 1: 1 for a raw device or file;
	// for the PKCS#11 source, the 48 HSM bytes of one hsmrand reseed over
	// the bytes of one read. A feed's credit rests on it.
	inputPerByte float64
	c            counters
	state        atomic.Int32
	// everHealthy is set once the source has first been healthy.
	everHealthy atomic.Bool
	log         *slog.Logger
	events      chan<- event
	// hsm, for the PKCS#11 source, returns hsmrand's own counters: its
	// requests to the token and the health tests of the raw token bytes,
	// which this source's tester (on hsmrand's mixed output) cannot see.
	hsm func() hsmrand.Stats
	// upstreamOK, for the PKCS#11 source, reports whether hsmrand's own
	// stream is healthy: the source is healthy only when it is.
	upstreamOK func() bool
	// upstreamWait, for the PKCS#11 source, waits until hsmrand's stream is
	// healthy again, or ctx ends. hsmrand recovers the token on its own
	// clock (its back-off, its probe); the worker waits on it instead of
	// backing off a second time, so the token is read again at once when
	// hsmrand has it back. It reports whether ctx is still live.
	upstreamWait func(ctx context.Context) bool
}

// newSource returns a source in the degraded state (start-up test pending),
// whose tested bytes wait in a ring of 4 chunks (at least the start-up
// test's length) for at most ringAge (0: no limit).
func newSource(name string, open opener, chunk, rate int, restoreAfter, ringAge time.Duration, log *slog.Logger, events chan<- event) (*source, error) {
	t, err := health.NewTester(health.DefaultHSMConfig())
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", name, err)
	}
	return &source{
		name: name, open: open, chunk: chunk, rate: rate, restoreAfter: restoreAfter,
		tester: t, ready: newRing(max(4*chunk, health.StartUpSamples), ringAge), inputPerByte: 1,
		log: log.With("source", name), events: events,
	}, nil
}

func (s *source) getState() sourceState { return sourceState(s.state.Load()) }

// setState moves the source to st and tells the daemon.
func (s *source) setState(st sourceState) {
	old := sourceState(s.state.Swap(int32(st)))
	if old == st {
		return
	}
	if st == stateFailed {
		s.ready.discard() // tested before the failure, but not used after it
	} else {
		s.ready.poke() // a feed waiting for this source's bytes looks again
	}
	ev := event{src: s, from: old, to: st}
	if st == stateHealthy {
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
func (s *source) run(ctx context.Context) {
	backoff := minBackoff
	for ctx.Err() == nil {
		r, err := s.open(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.c.fail(err)
			if errors.Is(err, errExhausted) {
				s.fail(ctx, err)
				return
			}
			s.log.Warn("cannot open source; retrying", "err", err, "in", backoff)
			s.setState(stateReconnecting)
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
		case errors.Is(err, errExhausted):
			s.fail(ctx, err)
			return
		case errors.Is(err, health.ErrPermanent):
			if !s.fail(ctx, err) {
				return
			}
		default:
			s.c.fail(err)
			if s.upstreamWait != nil {
				s.log.Warn("read failed; waiting for the token to deliver again", "err", err)
			} else {
				s.log.Warn("read failed; reopening the source", "err", err, "in", backoff)
			}
			s.setState(stateReconnecting)
			if !s.wait(ctx, &backoff) {
				return
			}
		}
	}
}

// wait waits before the source is opened again: until hsmrand has the
// token back, for the PKCS#11 source, else for the back-off, which it
// doubles. It reports whether ctx is still live.
func (s *source) wait(ctx context.Context, backoff *time.Duration) bool {
	if s.upstreamWait != nil {
		return s.upstreamWait(ctx)
	}
	if !sleep(ctx, *backoff) {
		return false
	}
	*backoff = min(2**backoff, maxBackoff)
	return true
}

// fail takes the source out of service and, for a health failure with
// restoreAfter set, waits that long and restores its tester for a new
// start-up test. It reports whether the source is back.
func (s *source) fail(ctx context.Context, err error) bool {
	s.log.Error("source taken out of service; going on with the others", "err", err)
	s.setState(stateFailed)
	if s.restoreAfter == 0 || errors.Is(err, errExhausted) {
		<-ctx.Done()
		return false
	}
	if !sleep(ctx, s.restoreAfter) {
		return false
	}
	s.log.Info("restoring the source: new start-up test")
	s.tester.Restore()
	s.setState(stateDegraded)
	return true
}

const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// readLoop reads chunks at the configured rate, tests them and keeps the
// usable bytes, until an error.
func (s *source) readLoop(ctx context.Context, r io.Reader, backoff *time.Duration) error {
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
		if d := time.Until(next); d > 0 && !sleep(ctx, d) {
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
func (s *source) test(block []byte) error {
	usable, err := s.tester.Test(block)
	var f *health.Failure
	switch {
	case errors.Is(err, health.ErrPermanent):
		return err
	case errors.As(err, &f):
		s.log.Warn("intermittent health test failure; block discarded, start-up test again", "test", f.Test.String(), "count", f.Count, "cutoff", f.Cutoff)
		s.setState(stateDegraded)
		return nil
	case err != nil:
		return err
	}
	if s.tester.State() == health.Operational && (s.upstreamOK == nil || s.upstreamOK()) {
		s.setState(stateHealthy)
	}
	s.ready.put(usable)
	return nil
}

// sleep waits for d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
