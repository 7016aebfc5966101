package main

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/hsmrand"
	"github.com/hsmentropy/hsmentropy/internal/softhsmtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// unreadyKernel is getrandom(2) on a kernel whose RNG is not ready yet, as
// kernelfeed's tests model it with their readiness seam: without
// GRND_INSECURE or GRND_NONBLOCK a call blocks until the kernel is seeded
// (here: until the test ends), and GRND_NONBLOCK fails with EAGAIN. Calls
// with GRND_INSECURE are served by the real kernel.
type unreadyKernel struct {
	seeded  chan struct{}
	blocked atomic.Int64 // calls that would have waited for the kernel
}

func newUnreadyKernel(t *testing.T) *unreadyKernel {
	k := &unreadyKernel{seeded: make(chan struct{})}
	t.Cleanup(func() { close(k.seeded) })
	return k
}

func (k *unreadyKernel) getrandom(p []byte, flags int) (int, error) {
	switch {
	case flags&unix.GRND_INSECURE != 0:
		return unix.Getrandom(p, flags)
	case flags&unix.GRND_NONBLOCK != 0:
		return 0, unix.EAGAIN
	}
	k.blocked.Add(1)
	<-k.seeded
	return unix.Getrandom(p, flags)
}

// TestPKCS11SourceEarlyBoot: the PKCS#11 source's mixer (hsmrand's) reads
// its OS input without waiting for the kernel RNG, so with only the HSM
// and a kernel that is not ready the source opens and serves within
// --startup-timeout. Before, hsmrand read the OS through crypto/rand, whose
// getrandom(2) blocks until the kernel has seeded itself without us.
func TestPKCS11SourceEarlyBoot(t *testing.T) {
	dir, tok := softToken(t)
	t.Setenv(softhsmtest.ConfEnv, dir.Conf)
	t.Setenv(pinEnv, tok.PIN)
	cfg := runConfig{pkcs11URI: tokenURI(tok), startupTimeout: 10 * time.Second, sourceTimeout: 2 * time.Second, feedInterval: 10 * time.Second}
	hc, err := pkcs11Config(&cfg)
	require.NoError(t, err)
	defer clear(hc.PIN)
	kr, ok := hc.OS.(kernelRandom)
	require.True(t, ok, "the PKCS#11 source's OS input is %T, not kernelRandom: it would read crypto/rand, which blocks before the kernel is ready", hc.OS)
	k := newUnreadyKernel(t)
	kr.getrandom = k.getrandom
	hc.OS = kr

	ctx, cancel := context.WithTimeout(t.Context(), cfg.startupTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		r, err := hsmrand.Open(ctx, hc)
		if err == nil {
			_, err = io.ReadFull(r, make([]byte, 64)) // prediction resistance: fresh HSM and OS bytes
			r.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(cfg.startupTimeout + 5*time.Second):
		t.Fatalf("the PKCS#11 source did not open and serve within --startup-timeout (%d getrandom calls waiting for the kernel)", k.blocked.Load())
	}
	assert.Zero(t, k.blocked.Load(), "getrandom calls that wait for the kernel RNG")
}

// TestOSSourceEarlyBoot: entropyd's own OS source does not wait for the
// kernel either.
func TestOSSourceEarlyBoot(t *testing.T) {
	k := newUnreadyKernel(t)
	o, err := newOSSource(0, slog.New(slog.DiscardHandler), make(chan event, 16))
	require.NoError(t, err)
	kr := osInput()
	kr.getrandom = k.getrandom
	o.read = kr.Read
	p := make([]byte, 512)
	n, err := o.Read(p)
	require.NoError(t, err)
	assert.Equal(t, len(p), n)
	assert.Zero(t, k.blocked.Load())
}
