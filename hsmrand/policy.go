package hsmrand

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hsmentropy/hsmentropy/mixer"
)

// onPrimaryError is the mixer's hook (mixer.Config.OnPrimaryError): the
// pool could not hand out SeedLen healthy HSM bytes for an instantiation or
// a reseed, after waiting up to the deadline (or at once, under Degrade,
// while the HSM is known to be down).
//
// While New or Open runs, and under FailClosed, the answer is Fail: New
// fails, or the read returns the error (not sticky; the shard tries again
// at its next request). Under Degrade the seeding uses the OS alone,
// and the Reader enters StateDegraded.
func (r *Reader) onPrimaryError(err error) mixer.Decision {
	if !r.started.Load() || r.cfg.policy == FailClosed || errors.Is(err, ErrClosed) {
		return mixer.Fail
	}
	r.state.update(func(s *stateInputs) { s.degraded = true }, err)
	return mixer.ContinueOSOnly
}

// onSourceDown, onSourceUp and onSourceFailed are the pool's reports on the
// HSM stream.
func (r *Reader) onSourceDown(cause error) {
	r.state.update(func(s *stateInputs) { s.down = true }, cause)
}

func (r *Reader) onSourceUp() {
	r.state.update(func(s *stateInputs) { s.down = false }, nil)
}

// onSourceFailed handles a permanent failure (health or token). Under
// FailClosed it is sticky: every later read returns it. Under Degrade the
// pool refuses every request from now on, so every seeding uses the OS.
func (r *Reader) onSourceFailed(cause error) {
	if r.cfg.policy == FailClosed {
		r.sticky.CompareAndSwap(nil, &stickyErr{cause})
	}
	r.state.update(func(s *stateInputs) {
		s.down = true
		s.failed = r.cfg.policy == FailClosed
	}, cause)
}

// onPrimaryServed is called after the pool handed healthy HSM bytes to a
// seeding: a degraded Reader is healthy again. The common case costs one
// atomic load.
func (r *Reader) onPrimaryServed() {
	if r.state.degraded.Load() {
		r.state.update(func(s *stateInputs) { s.degraded = false }, nil)
	}
}

// stickyErr holds the error every read returns once the Reader has failed
// for good or been closed.
type stickyErr struct{ err error }

// stateInputs are the facts the State derives from.
type stateInputs struct {
	closed, failed, degraded, down bool
}

func (s *stateInputs) state() State {
	switch {
	case s.closed:
		return StateClosed
	case s.failed:
		return StateFailed
	case s.degraded:
		return StateDegraded
	case s.down:
		return StateSourceDown
	}
	return StateHealthy
}

// stateTracker derives the Reader's State, accounts for the time spent
// degraded and calls the OnStateChange hook, in order, at every change.
type stateTracker struct {
	notify   func(from, to State, cause error)
	degraded atomic.Bool // mirrors in.degraded, for the read path

	// notifyMu is taken before mu is released, so hooks run in the order
	// of the changes, and without mu, so a hook may call Stats.
	notifyMu sync.Mutex

	mu            sync.Mutex
	in            stateInputs
	current       State
	degradedSince time.Time
	degradedTotal time.Duration
}

// update applies change to the inputs and reports a new State.
func (t *stateTracker) update(change func(*stateInputs), cause error) {
	t.mu.Lock()
	change(&t.in)
	t.degraded.Store(t.in.degraded)
	prev, next := t.current, t.in.state()
	if prev == next {
		t.mu.Unlock()
		return
	}
	now := time.Now()
	if prev == StateDegraded {
		t.degradedTotal += now.Sub(t.degradedSince)
	}
	if next == StateDegraded {
		t.degradedSince = now
	}
	t.current = next
	t.notifyMu.Lock()
	t.mu.Unlock()
	defer t.notifyMu.Unlock()
	if t.notify != nil {
		t.notify(prev, next, cause)
	}
}

// snapshot returns the State and the time spent degraded so far.
func (t *stateTracker) snapshot() (State, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.degradedTotal
	if t.current == StateDegraded {
		d += time.Since(t.degradedSince)
	}
	return t.current, d
}
