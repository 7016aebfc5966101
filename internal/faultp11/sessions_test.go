package faultp11

import (
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSessionsDirective(t *testing.T) {
	assert.Equal(t, "sessions 3", Sessions(3))
}

// TestSessionLimit holds the token at its limit of two sessions. Each seat is
// a flock on its own open file description, so sessions of one process
// contend for seats exactly as sessions of two processes do.
func TestSessionLimit(t *testing.T) {
	c := module(t)
	set(t, Sessions(2))
	open := func() (pkcs11.SessionHandle, error) {
		return c.OpenSession(env.tok.Slot, pkcs11.CKF_SERIAL_SESSION)
	}
	a, err := open()
	require.NoError(t, err, "first session")
	_, err = open()
	require.NoError(t, err, "second session")
	_, err = open()
	assert.ErrorIs(t, err, pkcs11.Error(pkcs11.CKR_SESSION_COUNT), "third session, over the limit")

	// The sessions held work; closing one frees its seat for another.
	random(t, c, a, 32)
	require.NoError(t, c.CloseSession(a))
	_, err = open()
	require.NoError(t, err, "a session in the freed seat")

	// A reload keeps the open sessions counted.
	set(t, Sessions(2), Delay("C_GetInfo", 0))
	_, err = open()
	assert.ErrorIs(t, err, pkcs11.Error(pkcs11.CKR_SESSION_COUNT), "over the limit after a reload")

	// C_CloseAllSessions frees every seat of the slot.
	require.NoError(t, c.CloseAllSessions(env.tok.Slot))
	for range 2 {
		_, err := open()
		require.NoError(t, err, "after C_CloseAllSessions")
	}

	// So does the token's removal, which closes every session.
	set(t, Sessions(2), Removed(time.Millisecond))
	_, err = c.GetInfo() // loads the file: the removal starts
	require.NoError(t, err)
	time.Sleep(20 * time.Millisecond)
	for range 2 {
		_, err := open()
		require.NoError(t, err, "after the removal")
	}
	_, err = open()
	assert.ErrorIs(t, err, pkcs11.Error(pkcs11.CKR_SESSION_COUNT), "over the limit after the removal")
	require.NoError(t, c.CloseAllSessions(env.tok.Slot))

	// The seats are files beside the control file, one per seat.
	for _, n := range []string{".session.0", ".session.1"} {
		_, err := os.Stat(env.ctl.Path() + n)
		assert.NoError(t, err)
	}
	_, err = os.Stat(env.ctl.Path() + ".session.2")
	assert.ErrorIs(t, err, fs.ErrNotExist, "a third seat file")
}
