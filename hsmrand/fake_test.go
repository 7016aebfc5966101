package hsmrand

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/hsmrand/internal/p11"
	"github.com/stretchr/testify/require"
)

// fakeMode is what a fakeSource does on its next request.
type fakeMode int32

const (
	fakeOK     fakeMode = iota // ChaCha8 output
	fakeDown                   // fails with errFakeDown (transient)
	fakeStuck                  // all zeros: fails the health tests permanently
	fakeBlock                  // blocks until the mode changes or ctx ends
	fakeRunOf9                 // one block with a run of 9 equal bytes (intermittent), then OK
	fakeFatal                  // fails as a token that refused the PIN at a re-login
)

var (
	errFakeDown  = errors.New("fake: device error")
	errFakeFatal = fmt.Errorf("%w: fake: C_Login: CKR_PIN_INCORRECT", p11.ErrLoginFatal)
)

// fakeSource is a token that tests can break: the consumer-defined source
// interface, with a ChaCha8 stream standing in for the HSM's.
type fakeSource struct {
	mode   atomic.Int32
	calls  atomic.Int64
	closed atomic.Bool
	delay  time.Duration

	mu     sync.Mutex
	rng    *rand.ChaCha8
	served [][]byte // with keep: every block handed out, for leak checks
	keep   bool
	change chan struct{}
}

func newFakeSource(seed byte) *fakeSource {
	var s [32]byte
	s[0] = seed
	return &fakeSource{rng: rand.NewChaCha8(s), change: make(chan struct{})}
}

// set changes the mode and wakes a blocked request.
func (f *fakeSource) set(m fakeMode) {
	f.mode.Store(int32(m))
	f.mu.Lock()
	close(f.change)
	f.change = make(chan struct{})
	f.mu.Unlock()
}

func (f *fakeSource) GenerateRandom(ctx context.Context, p []byte) error {
	f.calls.Add(1)
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	for fakeMode(f.mode.Load()) == fakeBlock {
		f.mu.Lock()
		ch := f.change
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	switch fakeMode(f.mode.Load()) {
	case fakeDown:
		return errFakeDown
	case fakeFatal:
		return errFakeFatal
	case fakeStuck:
		clear(p)
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rng.Read(p)
	if fakeMode(f.mode.Load()) == fakeRunOf9 && len(p) > 200 {
		p[99], p[109] = 0x5A, 0x5A
		for i := 100; i < 109; i++ {
			p[i] = 0xA5
		}
		f.mode.Store(int32(fakeOK))
	}
	if f.keep {
		f.served = append(f.served, append([]byte(nil), p...))
	}
	return nil
}

func (f *fakeSource) Close() error {
	f.closed.Store(true)
	return nil
}

// newFakeReader returns a Reader over f, closed at the end of the test.
func newFakeReader(t testing.TB, f *fakeSource, opts Options) *Reader {
	t.Helper()
	r, err := newReader(t.Context(), f, &opts)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

// settled waits until r's refiller is idle: after the first seeding it
// may still be topping the buffer up, and it draws only while the buffer
// is at most half full (only it adds bytes). A test that counts the
// source's calls, or needs the buffer's bytes, starts from here.
func settled(t *testing.T, r *Reader) {
	t.Helper()
	half := r.pool.ring.Cap() / 2
	waitFor(t, "the refiller to fill the buffer", func() bool { return r.Stats().HSMBuffered > half })
}

// drain makes GetRandom calls, each of which takes SeedLen bytes from the
// HSM buffer, until one fails or limit calls succeeded; it returns the
// error.
func drain(r *Reader, limit int) error {
	for range limit {
		if _, err := r.GetRandom(32); err != nil {
			return err
		}
	}
	return nil
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			require.Fail(t, "timed out waiting for "+what)
		}

		time.Sleep(time.Millisecond)
	}
}
