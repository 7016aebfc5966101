package hsmrand

import (
	"errors"

	"github.com/hsmentropy/hsmentropy/hsmrand/internal/p11"
)

// Sentinel errors that callers branch on with errors.Is.
var (
	// ErrClosed is returned by every Read and GetRandom after Close.
	ErrClosed = errors.New("hsmrand: closed")

	// ErrUnavailable: under FailClosed, a read needed fresh HSM bytes and
	// none came within Options.Deadline (the HSM is down or too slow). It
	// is not sticky: the next read tries again.
	ErrUnavailable = errors.New("hsmrand: no healthy HSM bytes available")

	// ErrHealthFailure: the HSM's output failed the SP 800-90B continuous
	// health tests permanently (the error also wraps the *health.Failure).
	// Under FailClosed it is sticky: every later read returns it.
	ErrHealthFailure = errors.New("hsmrand: HSM output failed its health tests")

	// ErrSourceFailed: the HSM stopped for good (a PIN refused at a
	// re-login, the token's RNG gone, the source exhausted). Under
	// FailClosed it is sticky.
	ErrSourceFailed = errors.New("hsmrand: HSM source failed for good")

	// ErrLogin: the token refused the PIN (CKR_PIN_INCORRECT,
	// CKR_PIN_LOCKED, CKR_PIN_LEN_RANGE, CKR_PIN_EXPIRED, ...), needs a
	// login that is not configured, or reports its user PIN locked or on
	// its final try, so that no login was attempted; or the PIN read from
	// its source is empty or longer than the token allows. A PIN is
	// presented once and never again: trying
	// again, or restarting, cannot help and can lock the token. Open's
	// errors match it with errors.Is; a re-login refused later is
	// ErrSourceFailed and matches it too.
	ErrLogin = p11.ErrLoginFatal
)

// PKCS11Error is a failed PKCS#11 call: the function (Func, such as
// "C_GenerateRandom"), its return value (Code, a CK_RV) and what the user
// can do (Advice). Errors from Open and from reads wrap it when a PKCS#11
// call failed; read it with errors.As rather than parsing error text:
//
//	var pe *hsmrand.PKCS11Error
//	if errors.As(err, &pe) && pe.Code == pkcs11.CKR_PIN_INCORRECT { ... }
type PKCS11Error = p11.Error

// MaxPIN is the most bytes a PIN source may hold (a final newline aside):
// PIN files are read with this bound, and a longer one is refused as a
// login error (ErrLogin) without being read on.
const MaxPIN = p11.MaxPINSource

// CKRName returns the name of a CK_RV value ("CKR_PIN_INCORRECT"), or
// "CKR_0x..." for a vendor-defined value.
func CKRName(code uint) string { return p11.CKRName(code) }
