package engine

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

// TestPKCS11SourceEarlyBoot: the PKCS#11 source's mixer (hsmrand's), given
// OSReader as its OS input as entropyd gives it, reads it without waiting
// for the kernel RNG, so with only the HSM and a kernel that is not ready
// the source opens and serves within --startup-timeout. Before, hsmrand
// read the OS through crypto/rand, whose getrandom(2) blocks until the
// kernel has seeded itself without us. (entropyd's TestPKCS11ConfigOS
// checks that its hsmrand.Config carries OSReader.)
func TestPKCS11SourceEarlyBoot(t *testing.T) {
	if _, _, err := softhsmtest.Lookup(); err != nil {
		softhsmtest.Unavailable(t, err)
	}
	dir, err := softhsmtest.NewDir(t.TempDir())
	require.NoError(t, err)
	tok, err := dir.InitToken("engine-test", "", "")
	require.NoError(t, err)
	t.Setenv(softhsmtest.ConfEnv, dir.Conf)
	const startupTimeout = 10 * time.Second
	// As entropyd configures its PKCS#11 source.
	hc := hsmrand.Config{URI: "pkcs11:token=" + tok.Label + "?module-path=" + tok.Module, PIN: []byte(tok.PIN)}
	hc.Policy, hc.PredictionResistance, hc.Shards, hc.OS = hsmrand.FailClosed, true, 1, OSReader()
	hc.Deadline, hc.MaxBufferAge, hc.HSMBuffer = 2*time.Second, 10*time.Second, hsmrand.MinHSMBuffer
	kr, ok := hc.OS.(kernelRandom)
	require.True(t, ok, "OSReader is %T, not kernelRandom: it would read crypto/rand, which blocks before the kernel is ready", hc.OS)
	k := newUnreadyKernel(t)
	kr.getrandom = k.getrandom
	hc.OS = kr

	ctx, cancel := context.WithTimeout(t.Context(), startupTimeout)
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
	case <-time.After(startupTimeout + 5*time.Second):
		require.Failf(t, "the PKCS#11 source did not open and serve within --startup-timeout", "%d getrandom calls waiting for the kernel", k.blocked.Load())
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
