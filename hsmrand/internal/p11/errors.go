package p11

import (
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"
)

// Sentinel errors that callers branch on. Every error this package returns
// for a PKCS#11 failure is an [*Error] that also matches one of these (or
// none, for a failure that is neither fatal nor a fault of the device), and
// errors.Is with a pkcs11.Error value works too.
var (
	// ErrLoginFatal: the token refused the PIN (CKR_PIN_INCORRECT,
	// CKR_PIN_LOCKED, ...). The login is never retried: retries lock tokens.
	ErrLoginFatal = errors.New("p11: login refused")
	// ErrTokenNotFound: no present token matches the configuration.
	ErrTokenNotFound = errors.New("p11: token not found")
	// ErrNoRNG: the token does not advertise a random number generator (CKF_RNG).
	ErrNoRNG = errors.New("p11: token has no random number generator")
	// ErrModule: the PKCS#11 library cannot be loaded or initialised.
	ErrModule = errors.New("p11: PKCS#11 module unusable")
	// ErrTokenDown: the token failed and is waiting out its back-off; it is
	// looked for again when the back-off ends.
	ErrTokenDown = errors.New("p11: token unavailable")
	// ErrBadBlock: C_GenerateRandom returned a block that fails the output
	// checks (short, all zero, or repeated; see [Token.GenerateRandom]).
	ErrBadBlock = errors.New("p11: token returned a bad block")
	// ErrClosed: the Token or Pool was closed.
	ErrClosed = errors.New("p11: closed")
)

// Error is a failed PKCS#11 call: the function, the return value by name, and
// what the user can do about it.
type Error struct {
	Func   string // the PKCS#11 function, e.g. "C_Login"
	Code   uint   // the CK_RV value
	Advice string // what the user can do
	class  error  // one of the sentinels, or nil
}

// Error returns "p11: C_Login: CKR_PIN_INCORRECT: <advice>".
func (e *Error) Error() string {
	return "p11: " + e.Func + ": " + CKRName(e.Code) + ": " + e.Advice
}

// Unwrap makes errors.Is match the pkcs11.Error value and the sentinel class.
func (e *Error) Unwrap() []error {
	if e.class == nil {
		return []error{pkcs11.Error(e.Code)}
	}
	return []error{pkcs11.Error(e.Code), e.class}
}

// CKRName returns the name of a CK_RV value ("CKR_PIN_INCORRECT"), or
// "CKR_0x..." for a value the PKCS#11 headers do not name (vendor codes).
func CKRName(code uint) string {
	// pkcs11.Error.Error() reads "pkcs11: 0xA0: CKR_PIN_INCORRECT".
	s := pkcs11.Error(code).Error()
	name := s[strings.LastIndex(s, ": ")+2:]
	if name == "" {
		return fmt.Sprintf("CKR_0x%X", code)
	}
	return name
}

// ckrOf returns the CK_RV inside err, if err came from miekg/pkcs11.
func ckrOf(err error) (uint, bool) {
	var pe pkcs11.Error
	if errors.As(err, &pe) {
		return uint(pe), true
	}
	return 0, false
}

// wrapCall turns an error from miekg/pkcs11 into an [*Error] with advice.
// Errors that carry no CK_RV are returned wrapped as they are.
func wrapCall(fn string, err error) error {
	code, ok := ckrOf(err)
	if !ok {
		return fmt.Errorf("p11: %s: %w", fn, err)
	}
	c := classify(code)
	return &Error{Func: fn, Code: code, Advice: advice(fn, code, c), class: c.sentinel()}
}

// errName names an error for [Stats.Errors]: the CK_RV name, or the kind of
// failure for errors that carry none.
func errName(err error) string {
	var pe *Error
	switch {
	case errors.As(err, &pe):
		return CKRName(pe.Code)
	case errors.Is(err, errModuleDown):
		return "module-not-initialized"
	case errors.Is(err, ErrBadBlock):
		return "bad-block"
	case errors.Is(err, ErrTokenNotFound):
		return "token-not-found"
	case errors.Is(err, ErrNoRNG):
		return "no-rng"
	case errors.Is(err, ErrLoginFatal):
		return "login-refused"
	}
	return "other"
}
