package p11

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/miekg/pkcs11"
)

// getSession returns a session for one caller's exclusive use: an idle one,
// or a new one. A token that is down answers at once until its back-off
// ends; then this caller looks for it again.
func (t *Token) getSession() (session, error) {
	t.mu.Lock()
	switch t.state {
	case StateClosed:
		t.mu.Unlock()
		return session{}, ErrClosed
	case StateFailed:
		err := t.err
		t.mu.Unlock()
		return session{}, err
	case StateDown:
		if err := t.downErrLocked(); err != nil {
			t.mu.Unlock()
			return session{}, err
		}
		t.mu.Unlock()
		return t.recover()
	}
	if n := len(t.idle); n > 0 {
		s := t.idle[n-1]
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		return s, nil
	}
	t.mu.Unlock()
	t.openMu.Lock()
	defer t.openMu.Unlock()
	return t.openSessionLocked()
}

// downErrLocked returns the error for a token that is down and still
// backing off, or nil once the back-off has ended. t.mu must be held.
func (t *Token) downErrLocked() error {
	wait := time.Until(t.retryAt)
	if wait <= 0 {
		return nil
	}
	return fmt.Errorf("%w: %s: looking for it again in %v; last fault: %w",
		ErrTokenDown, t.cfg.selection(), wait.Round(time.Millisecond), t.err)
}

// putSession gives a session back for reuse, unless it was opened before the
// token last went down.
func (t *Token) putSession(s session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s.epoch == t.epoch && t.state != StateClosed {
		t.idle = append(t.idle, s)
	}
}

// recover looks for a token that is down, once its back-off has ended, and
// returns a session on it.
func (t *Token) recover() (session, error) {
	t.openMu.Lock()
	defer t.openMu.Unlock()
	// Another caller may have brought the token back, or failed to, while
	// this one waited for openMu.
	t.mu.Lock()
	state, err := t.state, t.downErrLocked()
	t.mu.Unlock()
	switch {
	case state == StateClosed:
		return session{}, ErrClosed
	case state == StateDown && err != nil:
		return session{}, err
	case state == StateDown:
		if err := t.reconnect(); err != nil {
			return session{}, err
		}
		t.mu.Lock()
		t.st.recoveries++
		t.mu.Unlock()
	}
	// Take the session reconnect left, if no one else has.
	t.mu.Lock()
	if n := len(t.idle); n > 0 && t.state == StateUp {
		s := t.idle[n-1]
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		return s, nil
	}
	t.mu.Unlock()
	return t.openSessionLocked()
}

// reconnect finds the token, and opens and keeps one session on it
// (logging in when a PIN is configured). Used by Open and by recover. On
// failure the token is down or failed. t.openMu must be held.
func (t *Token) reconnect() error {
	if err := t.locate(); err != nil {
		return err
	}
	s, err := t.openSessionLocked()
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.backoff = 0
	t.mu.Unlock()
	t.putSession(s)
	return nil
}

// locate finds the token and records where it is, in which module
// generation; every session opened before is dropped. When the module
// itself fails (C_GetSlotList answers a device error, or the module is not
// initialised), it re-initialises the module first, if it may (see
// [Token.reinit]). On failure the token is down or failed. t.openMu must be
// held.
func (t *Token) locate() error {
	gen := t.lib.generation()
	slot, info, err := t.find(gen)
	// A network module re-initialised while its server was still away
	// can come up with an empty slot list, and keep it after the server
	// returns until the next re-initialisation (p11-kit's client does): in
	// an outage that already took a re-initialisation, a missing token is
	// the module's fault too.
	t.mu.Lock()
	reinited := t.reinited
	t.mu.Unlock()
	if err != nil && (moduleWide(err) || reinited && errors.Is(err, ErrTokenNotFound)) {
		ok, why := t.reinit(gen)
		switch {
		case ok:
			gen = t.lib.generation()
			slot, info, err = t.find(gen)
		case why != nil:
			err = fmt.Errorf("%w; %v", err, why)
		}
	}
	if err != nil {
		t.mu.Lock()
		t.st.errors[errName(err)]++
		t.mu.Unlock()
		if isFatal(err) {
			t.fail(err)
		} else {
			t.markDown(err, true)
		}
		return err
	}
	t.lib.succeeded()
	t.mu.Lock()
	t.reinited = false
	t.slot, t.label, t.serial, t.gen = slot, info.Label, info.SerialNumber, gen
	t.pinCountLow = t.login && pinFlagsOf(&info).countLow
	t.epoch++
	t.idle = nil
	t.loggedIn = false
	t.state = StateUp
	t.err = nil
	t.mu.Unlock()
	return nil
}

// moduleWide reports whether err says the whole module fails, not only this
// token: C_GetSlotList itself failed (a network module that lost its
// server answers CKR_DEVICE_ERROR to every call), or the module is not
// initialised after a failed re-initialisation.
func moduleWide(err error) bool {
	if errors.Is(err, errModuleDown) {
		return true
	}
	var pe *Error
	return errors.As(err, &pe) && pe.Func == "C_GetSlotList" && !isFatal(err)
}

// reinit re-initialises the module (C_Finalize, C_Initialize) to recover
// from a module-wide failure, unless Config.NoReinitialize forbids it or
// the module is not this package's to re-initialise. It reports whether the
// module was re-initialised, or why not. t.openMu must be held.
func (t *Token) reinit(gen uint64) (bool, error) {
	if t.cfg.NoReinitialize {
		return false, errors.New("re-initialising the module is turned off (NoReinitialize): the token comes back only if the module recovers by itself")
	}
	t.mu.Lock()
	since := t.since
	t.mu.Unlock()
	ok, err := t.lib.reinitialize(gen, since)
	if ok {
		t.mu.Lock()
		t.st.reinits++
		t.reinited = true
		// A new connection (or a new server behind it) may carry more:
		// the request limit starts again from Config.MaxRequest.
		t.st.maxRequest = 0
		t.mu.Unlock()
	}
	return ok, err
}

// openSessionLocked opens a read-only session and logs in if a PIN is
// configured and the token is not logged in already. A refused PIN fails the
// token, so C_Login is never called with it again. t.openMu must be held.
func (t *Token) openSessionLocked() (session, error) {
	t.mu.Lock()
	switch t.state {
	case StateClosed:
		t.mu.Unlock()
		return session{}, ErrClosed
	case StateFailed:
		err := t.err
		t.mu.Unlock()
		return session{}, err
	}
	slot, epoch, gen, needLogin := t.slot, t.epoch, t.gen, t.login && !t.loggedIn
	t.mu.Unlock()

	if err := t.lib.hold(gen); err != nil {
		if !errors.Is(err, errStaleSession) {
			return session{}, t.fault("C_OpenSession", err)
		}
		// The module was re-initialised since the token was found (by
		// another Token on it): find it again in the new generation.
		if err := t.locate(); err != nil {
			return session{}, err
		}
		return t.openSessionLocked()
	}
	defer t.lib.unhold()
	h, err := t.mod.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		return session{}, t.fault("C_OpenSession", err)
	}
	if needLogin {
		// miekg/pkcs11 takes the PIN as a string and copies it to C memory,
		// which it frees without zeroing. unsafe.String avoids a further
		// Go copy that could not be wiped; Login does not keep the string.
		pin := unsafe.String(unsafe.SliceData(t.pin), len(t.pin))
		err := t.mod.Login(h, pkcs11.CKU_USER, pin)
		t.mu.Lock()
		t.st.logins++
		t.mu.Unlock()
		if code, _ := ckrOf(err); err != nil && code != pkcs11.CKR_USER_ALREADY_LOGGED_IN {
			_ = t.mod.CloseSession(h)
			return session{}, t.fault("C_Login", err)
		}
		t.mu.Lock()
		if t.epoch == epoch {
			t.loggedIn = true
		}
		t.mu.Unlock()
	}
	return session{h: h, epoch: epoch, gen: gen}, nil
}

// fault wraps a failed call's error with its CK_RV name and advice, counts
// it, and applies the fault rules: a login or configuration fault stops the
// token; a session that died again on its retry is the caller's failure only
// (the next call reopens); an unsupported C_SeedRandom changes nothing;
// anything else, device faults first, takes the token down.
func (t *Token) fault(fn string, err error) error {
	werr := wrapCall(fn, err)
	code, _ := ckrOf(err)
	c := classify(code)
	t.mu.Lock()
	t.st.errors[errName(werr)]++
	t.mu.Unlock()
	switch {
	case c == classSession, c == classUnsupported && fn == "C_SeedRandom":
		// The token stays in use.
	case c.fatal() || c == classUnsupported:
		t.fail(werr)
	default:
		t.markDown(werr, c == classDevice)
	}
	return werr
}

// do runs f on s. If the session turns out to be gone (CKR_SESSION_CLOSED,
// CKR_SESSION_HANDLE_INVALID, or CKR_USER_NOT_LOGGED_IN when a PIN is
// configured), another handle in the process most likely called
// C_CloseAllSessions, which also logs the application out. Then every
// session opened so far is dead: the epoch moves on so that none is reused,
// and the dead handles are dropped, not closed, because the module reuses
// handle numbers (SoftHSM does) and closing one could close a live session.
// do opens a fresh session, logging in again, and runs f once more. On
// success it returns the session in use; on failure the session has been
// disposed of. f returns the call's output, if any.
//
// A foreign C_CloseAllSessions races with calls in flight: a call already
// holding a dead handle whose number the module has just reused may run on
// that other session. The window is one call long; only other code in the
// process closing our sessions can open it.
func (t *Token) do(s session, fn string, f func(pkcs11.SessionHandle) ([]byte, error)) (session, []byte, error) {
	out, err := t.call(s, f)
	if err == nil {
		return s, out, nil
	}
	code, _ := ckrOf(err)
	if c := classify(code); c == classSession || (c == classNoLogin && t.login) {
		t.mu.Lock()
		t.st.errors[CKRName(code)]++
		t.st.reopens++
		if s.epoch == t.epoch { // the first to notice
			t.epoch++
			t.idle = nil
			t.loggedIn = false
		}
		t.mu.Unlock()
		t.openMu.Lock()
		s, err = t.openSessionLocked()
		t.openMu.Unlock()
		if err != nil {
			return session{}, nil, err
		}
		if out, err = t.call(s, f); err == nil {
			return s, out, nil
		}
		code, _ = ckrOf(err)
	}
	werr := t.fault(fn, err)
	switch c := classify(code); {
	case c == classUnsupported && fn == "C_SeedRandom":
		t.putSession(s) // the session is fine
	case c == classSession || c == classDevice:
		// The handle is dead; drop it.
	default:
		t.closeSession(s)
	}
	return session{}, nil, werr
}

// call runs f on s's handle with the module held, so that it is not
// re-initialised under the call, unless the module was re-initialised since
// s was opened (errStaleSession) or is not initialised (errModuleDown).
func (t *Token) call(s session, f func(pkcs11.SessionHandle) ([]byte, error)) ([]byte, error) {
	if err := t.lib.hold(s.gen); err != nil {
		return nil, err
	}
	defer t.lib.unhold()
	out, err := f(s.h)
	if err == nil {
		t.lib.succeeded()
	}
	return out, err
}
