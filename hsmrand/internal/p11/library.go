package p11

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/pkcs11"
)

// errModuleDown: the module is being re-initialised, or its last
// C_Initialize failed; no call reaches it until a re-initialisation
// succeeds. It is a fault of the device (the token backs off), not of the
// configuration.
var errModuleDown = fmt.Errorf("%w: the PKCS#11 module is not initialised (its re-initialisation failed); trying again after the back-off", ErrTokenDown)

// errStaleSession: the session was opened before the module was last
// re-initialised, so its handle may now name another caller's session. It
// matches CKR_SESSION_HANDLE_INVALID, which is what the handle is, and is
// handled as such: a new session is opened.
var errStaleSession = pkcs11.Error(pkcs11.CKR_SESSION_HANDLE_INVALID)

// reinitWait bounds how long a re-initialisation waits for the calls in
// flight on the module (C_Finalize must not run under a call). A call that
// takes longer is hung; the module is then left as it is until the next
// try.
const reinitWait = 2 * time.Second

// library is one loaded PKCS#11 module, shared by every Token on it. It
// embeds the module (a *pkcs11.Ctx), and adds what recovery needs: the
// module's generation, bumped by every re-initialisation, so that a session
// handle from before it is never used again (modules reuse handle numbers,
// and an old handle could name a session another Token opened since); and a
// lock held for reading across every call and for writing by the
// re-initialisation, so that C_Finalize never runs under a call.
type library struct {
	initer
	owned bool // our C_Initialize started the module
	refs  int  // Tokens holding it; guarded by registry.mu

	calls   sync.RWMutex // read: a call is in flight; write: re-initialising
	up      bool         // C_Initialize succeeded and no C_Finalize since; guarded by calls
	gen     atomic.Uint64
	lastOK  atomic.Int64 // UnixNano of the last call of ours that succeeded
	reinits atomic.Uint64
}

// initer is a module that can be initialised and finalised: *pkcs11.Ctx,
// or a fake in tests.
type initer interface {
	module
	Initialize(...pkcs11.InitializeOption) error
	Finalize() error
}

// lifecycle is what a Token needs of its module beyond the PKCS#11 calls:
// *library implements it, and fakes in tests implement it or use
// [fixedLifecycle].
type lifecycle interface {
	// hold must be called before each call on the module, and unhold after
	// it: while held the module is not re-initialised. hold fails with
	// errStaleSession if the module was re-initialised since generation gen,
	// and with errModuleDown if it is not initialised now.
	hold(gen uint64) error
	unhold()
	generation() uint64
	// succeeded records a call that worked: proof that the module works.
	succeeded()
	// reinitialize calls C_Finalize and C_Initialize, if the module is
	// ours, no call of ours has succeeded since since, and nobody did it
	// since generation seen. It reports whether the module was
	// re-initialised (by this call or another since seen).
	reinitialize(seen uint64, since time.Time) (bool, error)
}

func (l *library) hold(gen uint64) error {
	l.calls.RLock()
	switch {
	case !l.up:
		l.calls.RUnlock()
		return errModuleDown
	case l.gen.Load() != gen:
		l.calls.RUnlock()
		return errStaleSession
	}
	return nil
}

func (l *library) unhold()            { l.calls.RUnlock() }
func (l *library) generation() uint64 { return l.gen.Load() }
func (l *library) succeeded()         { l.lastOK.Store(time.Now().UnixNano()) }

// errNotOurs: the module was initialised by other code in the process; a
// C_Finalize of ours would end that code's sessions.
var errNotOurs = errors.New("p11: the module was initialised by other code in this process (C_Initialize answered CKR_CRYPTOKI_ALREADY_INITIALIZED), so it is not re-initialised here; restart the process, or let its owner re-initialise it")

// reinitialize implements [lifecycle]; see the package documentation,
// "Network modules and re-initialisation". It waits at most reinitWait for
// the calls in flight, polling rather than blocking on the lock, so that
// other callers of the module are not held up meanwhile.
func (l *library) reinitialize(seen uint64, since time.Time) (bool, error) {
	if !l.owned {
		return false, errNotOurs
	}
	if l.lastOK.Load() > since.UnixNano() {
		return false, nil // some call of ours works: not a module-wide fault
	}
	deadline := time.Now().Add(reinitWait)
	for !l.calls.TryLock() {
		if time.Now().After(deadline) {
			return false, fmt.Errorf("p11: not re-initialising the module: a call has been in flight for over %v", reinitWait)
		}
		time.Sleep(5 * time.Millisecond)
	}
	defer l.calls.Unlock()
	if l.gen.Load() != seen {
		return true, nil // another Token did it meanwhile
	}
	if l.up {
		_ = l.Finalize() // the module is broken; its answer does not matter
	}
	l.up = false
	l.gen.Add(1) // every session opened so far is dead, whatever happens next
	l.reinits.Add(1)
	if err := l.Initialize(); err != nil {
		if code, _ := ckrOf(err); code != pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED {
			return true, fmt.Errorf("%w: %w", errModuleDown, wrapCall("C_Initialize", err))
		}
	}
	l.up = true
	return true, nil
}

// fixedLifecycle is the lifecycle of a module that is never re-initialised:
// a fake in tests, or a wrapper around a library.
type fixedLifecycle struct{}

func (fixedLifecycle) hold(uint64) error  { return nil }
func (fixedLifecycle) unhold()            {}
func (fixedLifecycle) generation() uint64 { return 0 }
func (fixedLifecycle) succeeded()         {}
func (fixedLifecycle) reinitialize(uint64, time.Time) (bool, error) {
	return false, errors.New("p11: this module cannot be re-initialised")
}
