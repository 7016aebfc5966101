package p11

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/miekg/pkcs11"
)

// State is a token's health, as [Stats] reports it.
type State int

const (
	StateUp     State = iota // serving
	StateDown                // failed; backing off, then looked for again
	StateFailed              // stopped for good (wrong PIN, no RNG, ...)
	StateClosed              // Close was called
)

func (s State) String() string {
	switch s {
	case StateUp:
		return "up"
	case StateDown:
		return "down"
	case StateFailed:
		return "failed"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Token is one PKCS#11 token used as a source of random bytes. It is safe
// for concurrent use. See the package documentation for its sessions, its
// faults and how it recovers.
type Token struct {
	cfg     Config // with defaults applied and no PIN
	mod     module
	lib     lifecycle // the module's generation and re-initialisation
	release func() error
	login   bool          // a PIN is configured; fixed at Open
	sem     chan struct{} // one slot per session in use: bounds cgo calls in flight
	done    chan struct{} // closed by Close

	// openMu serialises C_OpenSession, C_Login and the search for the
	// token, so that a wrong PIN is presented once, not once per goroutine.
	// It guards pin.
	openMu sync.Mutex
	pin    []byte

	mu       sync.Mutex // guards what follows; never held across a cgo call
	state    State
	err      error // why the token is down or failed
	slot     uint
	label    string
	serial   string
	epoch    uint64 // bumped when the token goes down: older sessions are dead
	gen      uint64 // the module generation the token last found itself in
	idle     []session
	loggedIn bool
	// pinCountLow: the token reported CKF_USER_PIN_COUNT_LOW when it was
	// last found, before the login (a PIN is configured).
	pinCountLow bool
	backoff     time.Duration
	retryAt     time.Time
	since       time.Time // when the token last went from up to down
	reinited    bool      // the module was re-initialised in this outage
	last        blockTag  // tag of the previous block, for the repetition check
	hasLast     bool
	st          counters
}

// session is a session handle, the token epoch in which it was opened and
// the module generation it belongs to.
type session struct {
	h     pkcs11.SessionHandle
	epoch uint64
	gen   uint64
}

// Open loads the module (once per process, see the package documentation),
// finds the one token that matches cfg, checks that it has an RNG, and opens
// a first session, logging in when a PIN is configured. Every failure is
// returned here: a wrong PIN (tried once), a missing module, no matching
// token, a token without CKF_RNG.
func Open(ctx context.Context, cfg Config) (*Token, error) {
	return open(ctx, cfg, false)
}

// open is Open; with lenient, a token that is missing or faulty (but not
// misconfigured) is returned down, to be looked for again after its back-off.
func open(ctx context.Context, cfg Config, lenient bool) (*Token, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	pin, err := cfg.loadPIN()
	if err != nil {
		return nil, err
	}
	lib, release, err := modules.acquire(cfg.ModulePath)
	if err != nil {
		clear(pin)
		return nil, err
	}
	return newToken(ctx, cfg, lib, release, pin, lenient)
}

// newToken starts a Token on mod. It takes ownership of pin and release.
// When mod also implements lifecycle (a *library does), the token can
// re-initialise it to recover; otherwise it never does.
func newToken(ctx context.Context, cfg Config, mod module, release func() error, pin []byte, lenient bool) (*Token, error) {
	c := cfg.withDefaults()
	t := &Token{
		cfg: c, mod: mod, lib: fixedLifecycle{}, release: release, pin: pin, login: pin != nil,
		sem: make(chan struct{}, c.MaxSessions), done: make(chan struct{}),
		st: counters{errors: make(map[string]uint64)},
	}
	if lc, ok := mod.(lifecycle); ok {
		t.lib = lc
	}
	t.gen, t.since = t.lib.generation(), time.Now()
	if err := ctx.Err(); err != nil {
		t.Close()
		return nil, fmt.Errorf("p11: open: %w", err)
	}
	err := t.checkLibrary()
	if err == nil {
		err = t.reconnect()
	}
	if err != nil {
		if lenient && !isFatal(err) {
			return t, nil // down; looked for again after the back-off
		}
		t.Close()
		return nil, err
	}
	return t, nil
}

// isFatal reports whether err stops a token for good.
func isFatal(err error) bool {
	return errors.Is(err, ErrLoginFatal) || errors.Is(err, ErrNoRNG) || errors.Is(err, ErrModule) ||
		errors.Is(err, ErrClosed) || errors.Is(err, errAmbiguous)
}

// Close closes the token's sessions, wipes its PIN and releases the module.
// It never calls C_Finalize, which would break other users of the module in
// the process (see the package documentation), nor C_Logout, which would
// log out every other user of the token. It waits for calls in flight.
// Close is idempotent.
func (t *Token) Close() error {
	t.mu.Lock()
	if t.state == StateClosed {
		t.mu.Unlock()
		return nil
	}
	t.state = StateClosed
	close(t.done)
	t.mu.Unlock()
	// Wait for the calls in flight: fill every slot of the semaphore.
	for range cap(t.sem) {
		t.sem <- struct{}{}
	}
	t.openMu.Lock()
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, s := range idle {
		t.closeSession(s) // the session may be gone already
	}
	clear(t.pin)
	t.pin = nil
	t.openMu.Unlock()
	return t.release()
}

// enter takes a semaphore slot; leave gives it back.
func (t *Token) enter(ctx context.Context) error {
	select {
	case <-t.done:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("p11: %w", ctx.Err())
	case t.sem <- struct{}{}:
		return nil
	}
}

func (t *Token) leave() { <-t.sem }

// markDown records a fault: the token is down until its back-off ends.
// Idle sessions are closed, unless sessionsGone says the device or the
// sessions are gone: then their handles may already be reused by the module
// and are dropped instead.
func (t *Token) markDown(cause error, sessionsGone bool) {
	t.mu.Lock()
	if t.state == StateClosed || t.state == StateFailed {
		t.mu.Unlock()
		return
	}
	idle := t.idle
	if t.state == StateUp {
		t.since = time.Now()
	}
	t.state = StateDown
	t.err = cause
	t.epoch++
	t.idle = nil
	t.loggedIn = false
	t.backoff = nextBackoff(t.backoff, t.cfg.BackoffMin, t.cfg.BackoffMax)
	t.retryAt = time.Now().Add(jitter(t.backoff))
	t.st.lastError = cause.Error()
	t.mu.Unlock()
	if !sessionsGone {
		for _, s := range idle {
			t.closeSession(s) // the token is suspect; its answer does not matter
		}
	}
}

// fail stops the token for good.
func (t *Token) fail(cause error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state == StateClosed {
		return
	}
	t.state = StateFailed
	t.err = cause
	t.st.lastError = cause.Error()
}

// closeSession closes s, unless the module was re-initialised since s was
// opened: then the handle is dead, and may name another caller's session.
func (t *Token) closeSession(s session) {
	if t.lib.hold(s.gen) != nil {
		return
	}
	defer t.lib.unhold()
	_ = t.mod.CloseSession(s.h)
}
