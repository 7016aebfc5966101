package p11

import (
	"errors"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
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
		if !assert.ErrorAs(t, err, &pe, "%#x", c.code) {
			continue
		}
		assert.Equal(t, c.code, pe.Code, "%#x: the *Error's code", c.code)
		assert.Equal(t, c.name, CKRName(c.code), "%#x: CKRName", c.code)
		want := "p11: C_Fn: " + c.name + ": "
		assert.True(t, strings.HasPrefix(err.Error(), want), "%#x: message %q lacks the prefix %q", c.code, err, want)
		assert.Greater(t, len(err.Error()), len(want), "%#x: message %q has no advice after the prefix", c.code, err)
		assert.ErrorIs(t, err, pkcs11.Error(c.code), "%#x: errors.Is with the pkcs11.Error", c.code)
		if c.sentinel != nil {
			assert.ErrorIs(t, err, c.sentinel, "%#x", c.code)
		}
	}
}
