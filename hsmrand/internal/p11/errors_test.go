package p11

import (
	"errors"
	"testing"

	"github.com/miekg/pkcs11"
)

func TestErrorNamesAndClasses(t *testing.T) {
	cases := []struct {
		code     uint
		name     string
		sentinel error
	}{
		{pkcs11.CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT", ErrLoginFatal},
		{pkcs11.CKR_PIN_LOCKED, "CKR_PIN_LOCKED", ErrLoginFatal},
		{pkcs11.CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED", ErrTokenDown},
		{pkcs11.CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT", ErrTokenDown},
		{pkcs11.CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR", ErrTokenDown},
		{pkcs11.CKR_RANDOM_NO_RNG, "CKR_RANDOM_NO_RNG", ErrNoRNG},
		{pkcs11.CKR_RANDOM_SEED_NOT_SUPPORTED, "CKR_RANDOM_SEED_NOT_SUPPORTED", errors.ErrUnsupported},
		{pkcs11.CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED", nil},
		{pkcs11.CKR_VENDOR_DEFINED + 7, "CKR_0x80000007", nil},
	}
	for _, c := range cases {
		err := wrapCall("C_Fn", pkcs11.Error(c.code))
		var pe *Error
		if !errors.As(err, &pe) || pe.Code != c.code || CKRName(c.code) != c.name {
			t.Errorf("%#x: got %v, name %q; want %q", c.code, err, CKRName(c.code), c.name)
			continue
		}
		if want := "p11: C_Fn: " + c.name + ": "; len(err.Error()) <= len(want) || err.Error()[:len(want)] != want {
			t.Errorf("%#x: message %q lacks the prefix %q and advice", c.code, err, want)
		}
		if !errors.Is(err, pkcs11.Error(c.code)) {
			t.Errorf("%#x: errors.Is with the pkcs11.Error fails", c.code)
		}
		if c.sentinel != nil && !errors.Is(err, c.sentinel) {
			t.Errorf("%#x: does not match %v", c.code, c.sentinel)
		}
	}
}
