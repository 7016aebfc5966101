package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/hsmentropy/hsmentropy/hsmrand"
	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
)

// TestPINRefused checks that the PIN hint reads the PKCS#11 return codes
// in the error's tree, the second token's of a failover list too, and not
// the error's text.
func TestPINRefused(t *testing.T) {
	dev := &hsmrand.PKCS11Error{Func: "C_GenerateRandom", Code: pkcs11.CKR_DEVICE_ERROR}
	pin := &hsmrand.PKCS11Error{Func: "C_Login", Code: pkcs11.CKR_PIN_INCORRECT}
	assert.True(t, pinRefused(fmt.Errorf("open: %w", pin)), "CKR_PIN_INCORRECT, wrapped")
	assert.True(t, pinRefused(&hsmrand.PKCS11Error{Func: "C_GenerateRandom", Code: pkcs11.CKR_USER_NOT_LOGGED_IN}), "CKR_USER_NOT_LOGGED_IN")
	assert.True(t, pinRefused(errors.Join(dev, fmt.Errorf("token b: %w", pin))), "CKR_PIN_INCORRECT from the second token")
	assert.False(t, pinRefused(errors.Join(dev, &hsmrand.PKCS11Error{Func: "C_Login", Code: pkcs11.CKR_FUNCTION_NOT_SUPPORTED})), "no PIN code")
	assert.False(t, pinRefused(errors.New("p11: C_Login: CKR_PIN_INCORRECT")), "text alone is not a code")
}
