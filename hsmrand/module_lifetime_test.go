package hsmrand

import (
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCloseLeavesOtherModuleUsers: code in the same process that uses the
// SoftHSM module through its own miekg/pkcs11 handle (and so got
// CKR_CRYPTOKI_ALREADY_INITIALIZED) keeps its session and its calls working
// across the Close of every Reader: hsmrand never finalises the module.
func TestCloseLeavesOtherModuleUsers(t *testing.T) {
	needSoftHSM(t)
	r, err := Open(t.Context(), Config{ModulePath: hsm.main.Module, TokenLabel: hsm.main.Label, PIN: []byte(hsm.main.PIN)})
	require.NoError(t, err)
	other := pkcs11.New(hsm.main.Module)
	require.NotNil(t, other)
	t.Cleanup(other.Destroy)
	require.ErrorIs(t, other.Initialize(), pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED))
	sh, err := other.OpenSession(hsm.main.Slot, pkcs11.CKF_SERIAL_SESSION)
	require.NoError(t, err)
	_, err = r.GetRandom(32)
	require.NoError(t, err)

	require.NoError(t, r.Close())
	b, err := other.GenerateRandom(sh, 32)
	assert.NoError(t, err, "the other user's session after the Reader's Close")
	assert.Len(t, b, 32)
	_, err = other.GetSlotList(true)
	assert.NoError(t, err)
	assert.NoError(t, other.CloseSession(sh))
}
