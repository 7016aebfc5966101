package p11

import (
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"
)

// class is what this package does after a CK_RV, per the fault rules in the
// package documentation.
type class int

const (
	classOther       class = iota // report; the token backs off like after a device fault
	classSession                  // the session is gone: reopen and retry once
	classDevice                   // the token is gone: back off, find it again
	classLogin                    // the PIN is wrong or locked: stop, never log in again
	classNoLogin                  // the token needs a login that was not configured
	classNoRNG                    // the token has no RNG
	classModule                   // the library is not usable in this process
	classUnsupported              // the token lacks an optional function; nothing changes
)

func classify(code uint) class {
	switch code {
	case pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED:
		return classSession
	case pkcs11.CKR_DEVICE_REMOVED, pkcs11.CKR_TOKEN_NOT_PRESENT, pkcs11.CKR_DEVICE_ERROR,
		pkcs11.CKR_TOKEN_NOT_RECOGNIZED, pkcs11.CKR_SLOT_ID_INVALID, pkcs11.CKR_DEVICE_MEMORY:
		return classDevice
	case pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_LOCKED, pkcs11.CKR_PIN_EXPIRED,
		pkcs11.CKR_PIN_INVALID, pkcs11.CKR_PIN_LEN_RANGE, pkcs11.CKR_USER_PIN_NOT_INITIALIZED,
		pkcs11.CKR_USER_TYPE_INVALID, pkcs11.CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
		pkcs11.CKR_USER_TOO_MANY_TYPES:
		return classLogin
	case pkcs11.CKR_USER_NOT_LOGGED_IN:
		return classNoLogin
	case pkcs11.CKR_RANDOM_NO_RNG:
		return classNoRNG
	case pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED, pkcs11.CKR_CANT_LOCK, pkcs11.CKR_NEED_TO_CREATE_THREADS:
		return classModule
	case pkcs11.CKR_RANDOM_SEED_NOT_SUPPORTED, pkcs11.CKR_FUNCTION_NOT_SUPPORTED:
		return classUnsupported
	}
	return classOther
}

// fatal reports whether the class stops the token for good.
func (c class) fatal() bool {
	return c == classLogin || c == classNoLogin || c == classNoRNG || c == classModule
}

func (c class) sentinel() error {
	switch c {
	case classDevice:
		return ErrTokenDown
	case classLogin, classNoLogin:
		return ErrLoginFatal
	case classNoRNG:
		return ErrNoRNG
	case classModule:
		return ErrModule
	case classUnsupported:
		return errors.ErrUnsupported
	}
	return nil
}

// advice says, for a user, what happens next and what they can do.
func advice(fn string, code uint, c class) string {
	switch code {
	case pkcs11.CKR_PIN_INCORRECT:
		return "the PIN was rejected; not retrying (retries lock the token); check pin-value, pin-source or VAULT_HSM_PIN"
	case pkcs11.CKR_PIN_LOCKED:
		return "the user PIN is locked; not retrying; the token's security officer must reset it (C_InitPIN)"
	case pkcs11.CKR_PIN_EXPIRED:
		return "the user PIN has expired; not retrying; set a new PIN with the HSM's tools"
	case pkcs11.CKR_USER_PIN_NOT_INITIALIZED:
		return "the token has no user PIN yet; not retrying; initialise the token's user PIN"
	case pkcs11.CKR_USER_NOT_LOGGED_IN:
		return "the token requires a login for this call; configure a PIN (pin-value, pin-source or VAULT_HSM_PIN)"
	case pkcs11.CKR_USER_ANOTHER_ALREADY_LOGGED_IN:
		return "another user (the security officer?) is logged in to this token in this process; not retrying"
	case pkcs11.CKR_RANDOM_NO_RNG:
		return "the token has no random number generator; choose another token"
	case pkcs11.CKR_RANDOM_SEED_NOT_SUPPORTED:
		return "the token does not accept seed material; seeding is optional and was skipped"
	case pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED:
		return "other code in this process finalised the module (C_Finalize); restart the process"
	case pkcs11.CKR_DATA_LEN_RANGE, pkcs11.CKR_ARGUMENTS_BAD, pkcs11.CKR_HOST_MEMORY, pkcs11.CKR_DEVICE_MEMORY:
		if fn == "C_GenerateRandom" {
			// Larger requests were halved down to this one (see limit.go).
			return fmt.Sprintf("the token refused a request of %d bytes, the smallest this package makes: its request limit is lower (or it is out of memory); backing off before the next try; see the module's own log", MinRequest)
		}
	case pkcs11.CKR_GENERAL_ERROR:
		if fn == "C_Initialize" {
			return "the module failed to start; check its configuration (SoftHSM: SOFTHSM2_CONF and its directories.tokendir; Futurex: FXPKCS11_CFG)"
		}
	}
	switch c {
	case classSession:
		return "the session was closed under us, and again on the one retry (does other code in this process call C_CloseAllSessions?); the next call opens a new session"
	case classDevice:
		return "the token is unreachable; backing off and looking for it again by label and serial; check the HSM, its network and its slot"
	case classLogin:
		return "the token refused the login; not retrying; check the PIN and the token's state"
	}
	return "the token failed the call; backing off before the next try; see the module's own log for details"
}
