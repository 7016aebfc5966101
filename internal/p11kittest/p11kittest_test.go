package p11kittest

import (
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/internal/softhsmtest"
	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests set P11_KIT_SERVER_ADDRESS and friends with t.Setenv, so none
// of them is parallel.

func TestRandomThroughServer(t *testing.T) {
	srv, c := serve(t, Options{Label: "through"})
	a, err := c.random(32)
	require.NoError(t, err)
	b, err := c.random(32)
	require.NoError(t, err)
	assert.Len(t, a, 32)
	assert.NotEqual(t, a, b)

	// One process serves the client: the server forked it for the connection.
	pids, err := srv.PIDs()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(pids), 2, "the server and its child for the client")
}

func TestExportsGivenToken(t *testing.T) {
	d, err := softhsmtest.NewDir(t.TempDir())
	if err != nil {
		softhsmtest.Need(t, err)
	}
	tok, err := d.InitToken("given", "", "")
	require.NoError(t, err)
	// serve draws from the token it finds by tok.Serial through the server.
	srv, _ := serve(t, Options{Token: tok})
	assert.Same(t, tok, srv.Token)
}

func TestStopEndsEveryServerProcess(t *testing.T) {
	srv, _ := serve(t, Options{})
	pids, err := srv.PIDs()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(pids), 2)

	require.NoError(t, srv.Stop())
	for _, pid := range pids {
		assert.False(t, alive(pid), "process %d of the stopped server is alive", pid)
	}
	_, err = os.Stat(srv.Socket)
	assert.NoError(t, err, "the socket file stays, refusing connections")
	gone, err := srv.PIDs()
	require.NoError(t, err)
	assert.Empty(t, gone)
	require.NoError(t, srv.Stop(), "stopping a stopped server")
	require.NoError(t, srv.Start(), "starting it again")
	assert.Error(t, srv.Start(), "starting a running server")
}

// TestRestartNeedsReinitialize records what a p11-kit client sees when the
// server goes away and comes back: every call fails with CKR_DEVICE_ERROR,
// and keeps failing after the server is back, until the client calls
// C_Finalize and C_Initialize.
func TestRestartNeedsReinitialize(t *testing.T) {
	srv, c := serve(t, Options{})
	slot, err := c.slot()
	require.NoError(t, err)
	old, err := c.open()
	require.NoError(t, err)
	_, err = c.ctx.GenerateRandom(old, 32)
	require.NoError(t, err)

	require.NoError(t, srv.Stop())
	_, err = c.ctx.GetSlotList(true)
	assert.Equal(t, pkcs11.Error(pkcs11.CKR_DEVICE_ERROR), ckr(t, err), "C_GetSlotList, server down")
	_, err = c.ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
	assert.Equal(t, pkcs11.Error(pkcs11.CKR_DEVICE_ERROR), ckr(t, err), "C_OpenSession, server down")
	_, err = c.ctx.GenerateRandom(old, 32)
	assert.Equal(t, pkcs11.Error(pkcs11.CKR_DEVICE_ERROR), ckr(t, err), "C_GenerateRandom on the old session, server down")

	require.NoError(t, srv.Start())
	// The server is back, but this module instance does not reconnect by
	// itself: it fails the same way for as long as we look.
	for i := 0; i < 20; i++ {
		_, err = c.ctx.GetSlotList(true)
		require.Equal(t, pkcs11.Error(pkcs11.CKR_DEVICE_ERROR), ckr(t, err), "C_GetSlotList, server back, attempt %d", i)
		_, err = c.ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
		require.Equal(t, pkcs11.Error(pkcs11.CKR_DEVICE_ERROR), ckr(t, err), "C_OpenSession, server back, attempt %d", i)
		_, err = c.ctx.GenerateRandom(old, 32)
		require.Equal(t, pkcs11.Error(pkcs11.CKR_DEVICE_ERROR), ckr(t, err), "C_GenerateRandom on the old session, server back, attempt %d", i)
		time.Sleep(100 * time.Millisecond)
	}

	took, fin := c.reinitialize(t)
	t.Logf("C_Finalize with the connection lost: %v; first draw %v after it", fin, took)
	assert.NoError(t, fin, "C_Finalize")
	_, err = c.ctx.GenerateRandom(old, 32)
	assert.Equal(t, pkcs11.Error(pkcs11.CKR_SESSION_HANDLE_INVALID), ckr(t, err), "the old session after C_Initialize")
}

// TestReinitializeWhileDown records what a client sees when it
// re-initialises while the server is down: C_Finalize and C_Initialize
// succeed, and the module then reports no slots at all (C_GetSlotList
// succeeds with an empty list) instead of an error, and goes on doing so
// after the server is back, until the next C_Finalize and C_Initialize.
func TestReinitializeWhileDown(t *testing.T) {
	srv, c := serve(t, Options{})

	require.NoError(t, srv.Stop())
	require.NoError(t, c.ctx.Finalize(), "C_Finalize, server down")
	require.NoError(t, c.ctx.Initialize(), "C_Initialize, server down")
	slots, err := c.ctx.GetSlotList(false)
	require.NoError(t, err, "C_GetSlotList after C_Initialize, server down")
	assert.Empty(t, slots)

	require.NoError(t, srv.Start())
	for i := 0; i < 20; i++ {
		slots, err = c.ctx.GetSlotList(false)
		require.NoError(t, err, "C_GetSlotList, server back, attempt %d", i)
		require.Empty(t, slots, "C_GetSlotList, server back, attempt %d", i)
		time.Sleep(100 * time.Millisecond)
	}
	assert.Equal(t, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED), ckr(t, c.ctx.Initialize()), "C_Initialize without C_Finalize")

	took, fin := c.reinitialize(t)
	assert.NoError(t, fin)
	t.Logf("first draw %v after C_Finalize", took)
}

// TestInstancesAreIndependent shows that every load of p11-kit-client.so
// is a module instance of its own: finalising one leaves another, loaded
// from the same path in the same process, working.
func TestInstancesAreIndependent(t *testing.T) {
	srv, a := serve(t, Options{})
	b := load(t, srv.ClientModule, srv)
	_, err := b.random(32)
	require.NoError(t, err)
	require.NoError(t, b.ctx.Finalize())
	_, err = a.random(32)
	require.NoError(t, err, "instance a after instance b's C_Finalize")
	require.NoError(t, b.ctx.Initialize())
	_, err = b.random(32)
	require.NoError(t, err)
}

// TestConcurrentClientsWithoutLogin runs several clients of one server at
// once. Each has a p11-kit-remote process, and so a SoftHSM, of its own over
// the one token directory; without C_Login, which rewrites the token's file
// (see the package doc), none of them sees an error.
func TestConcurrentClientsWithoutLogin(t *testing.T) {
	srv, first := serve(t, Options{})
	clients := []*client{first}
	for range 3 {
		c := load(t, srv.ClientModule, srv)
		c.pin = "" // no C_Login
		clients = append(clients, c)
	}
	first.pin = ""
	var wg sync.WaitGroup
	errs := make([]error, len(clients))
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if _, err := c.random(32); err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "client %d", i)
	}
}

// TestTwoServers reaches two servers from one process through each one's
// own copy of the client module, and stops one while the other serves.
func TestTwoServers(t *testing.T) {
	srvA := Start(t, Options{Label: "a"})
	srvB := Start(t, Options{Label: "b"})
	srvA.Setenv(t)
	srvB.Setenv(t)
	a := load(t, srvA.OwnModule, srvA)
	b := load(t, srvB.OwnModule, srvB)

	for _, c := range []*client{a, b} {
		_, err := c.random(32)
		require.NoError(t, err)
	}
	// Each copy reaches its own server only.
	a.serial = srvB.Token.Serial
	_, err := a.slot()
	assert.Error(t, err, "server b's token through server a's module")
	a.serial = srvA.Token.Serial

	require.NoError(t, srvA.Stop())
	_, err = a.ctx.GetSlotList(true)
	assert.Equal(t, pkcs11.Error(pkcs11.CKR_DEVICE_ERROR), ckr(t, err), "server a down")
	for i := 0; i < 5; i++ {
		_, err = b.random(32)
		require.NoError(t, err, "server b while a is down, draw %d", i)
	}

	require.NoError(t, srvA.Start())
	a.reinitialize(t)
	_, err = b.random(32)
	require.NoError(t, err, "server b after a's module instance was re-initialised")
}

// alive reports whether process pid exists and has not exited.
func alive(pid int) bool {
	_, ok := liveGroup(pid)
	return ok
}
