package p11

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests use fakeModule because SoftHSM cannot produce the situations
// they need: every SoftHSM token sets CKF_RNG, and a SoftHSM token cannot be
// removed or fail while the module is loaded. The SoftHSM tests in
// softhsm_test.go cover the same code paths that a real module can reach.

const fakeRNG = pkcs11.CKF_RNG | pkcs11.CKF_TOKEN_INITIALIZED

func oneToken() map[uint]*fakeToken {
	return map[uint]*fakeToken{7: {label: "kmes", serial: "S1", flags: fakeRNG}}
}

func TestFakeNoRNG(t *testing.T) {
	f := newFake("", map[uint]*fakeToken{3: {label: "norng", serial: "N1", flags: pkcs11.CKF_TOKEN_INITIALIZED}})
	_, err := openFake(t, f, Config{TokenLabel: "norng"}, false)
	require.ErrorIs(t, err, ErrNoRNG, "Open on a token without CKF_RNG")
	assert.ErrorContains(t, err, "CKF_RNG", "the error names CKF_RNG")
	assert.ErrorContains(t, err, `"norng"`, "the error names the token")
	// A Pool treats it as a configuration error too.
	_, err = openFake(t, f, Config{TokenLabel: "norng"}, true)
	assert.ErrorIs(t, err, ErrNoRNG, "lenient open")
}

func TestFakeChunksAndMinimumDraw(t *testing.T) {
	f := newFake("", oneToken())
	tok, err := openFake(t, f, Config{TokenLabel: "kmes"}, false)
	require.NoError(t, err)
	defer tok.Close()
	p := make([]byte, 3*MaxChunk+5)
	require.NoError(t, tok.GenerateRandom(t.Context(), p))
	small := make([]byte, 5)
	require.NoError(t, tok.GenerateRandom(t.Context(), small))
	_, req := f.stats()
	want := []int{MaxChunk, MaxChunk, MaxChunk, minDraw, minDraw}
	assert.Equal(t, want, req, "C_GenerateRandom lengths")
	st := tok.Stats()
	assert.Equal(t, uint64(5), st.Calls, "Stats calls")
	assert.Equal(t, uint64(3*MaxChunk+2*minDraw), st.Bytes, "Stats bytes")
}

func TestFakeBadBlocks(t *testing.T) {
	fixed := bytes.Repeat([]byte{0xA5}, MaxChunk)
	cases := []struct {
		name string
		gen  func(n int) ([]byte, error)
		want string
	}{
		{"all zero", func(n int) ([]byte, error) { return make([]byte, n), nil }, "all-zero block"},
		{"zero tail", func(n int) ([]byte, error) {
			b := bytes.Repeat([]byte{1}, n)
			clear(b[n-zeroTail:])
			return b, nil
		}, "short block"},
		{"short", func(n int) ([]byte, error) { return bytes.Repeat([]byte{1}, n-1), nil }, "short block"},
		{"repeated", func(n int) ([]byte, error) { return bytes.Clone(fixed[:n]), nil }, "repeated block"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake("", oneToken())
			tok, err := openFake(t, f, Config{TokenLabel: "kmes", TokenOptions: TokenOptions{BackoffMin: time.Hour}}, false)
			require.NoError(t, err)
			defer tok.Close()
			f.setGen(c.gen)
			p := bytes.Repeat([]byte{0xFF}, 100)
			err = tok.GenerateRandom(t.Context(), p)
			if c.name == "repeated" { // the first block is fine; the second repeats it
				require.NoError(t, err, "first block")
				err = tok.GenerateRandom(t.Context(), p)
			}
			require.ErrorIs(t, err, ErrBadBlock)
			require.ErrorContains(t, err, c.want)
			assert.Equal(t, make([]byte, len(p)), p, "p not zeroed after a bad block")
			st := tok.Stats()
			assert.Equal(t, StateDown, st.State)
			assert.Equal(t, uint64(1), st.Errors["bad-block"], "errors %v, want one bad-block", st.Errors)
			assert.ErrorIs(t, tok.GenerateRandom(t.Context(), p), ErrTokenDown, "during back-off")
		})
	}
}

func TestFakeDeviceRemovedComesBack(t *testing.T) {
	f := newFake("1234", oneToken())
	tok, err := openFake(t, f, Config{Serial: "S1", PIN: []byte("1234"), TokenOptions: TokenOptions{BackoffMin: 20 * time.Millisecond, BackoffMax: 40 * time.Millisecond}}, false)
	require.NoError(t, err)
	defer tok.Close()
	p := make([]byte, 64)
	require.NoError(t, tok.GenerateRandom(t.Context(), p))
	// The device is unplugged: the call fails with CKR_DEVICE_REMOVED.
	f.setGen(func(int) ([]byte, error) { return nil, pkcs11.Error(pkcs11.CKR_DEVICE_REMOVED) })
	err = tok.GenerateRandom(t.Context(), p)
	require.ErrorIs(t, err, ErrTokenDown)
	require.ErrorIs(t, err, pkcs11.Error(pkcs11.CKR_DEVICE_REMOVED))
	require.ErrorContains(t, err, "CKR_DEVICE_REMOVED")
	require.ErrorContains(t, err, "backing off")
	f.remove(7)
	f.setGen(nil)
	// While it is away, calls fail fast, and looking again finds nothing.
	deadline := time.Now().Add(2 * time.Second)
	for tok.Stats().Errors["token-not-found"] == 0 && time.Now().Before(deadline) {
		err := tok.GenerateRandom(t.Context(), p)
		require.True(t, errors.Is(err, ErrTokenDown) || errors.Is(err, ErrTokenNotFound), "while removed: %v, want ErrTokenDown or ErrTokenNotFound", err)
		time.Sleep(5 * time.Millisecond)
	}
	// It comes back in another slot; the token finds it by serial.
	f.mu.Lock()
	f.slots[42] = &fakeToken{label: "kmes", serial: "S1", flags: fakeRNG}
	f.mu.Unlock()
	for {
		err = tok.GenerateRandom(t.Context(), p)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, err, "token did not come back")
	st := tok.Stats()
	assert.Equal(t, StateUp, st.State, "after return")
	assert.Equal(t, uint(42), st.Slot, "after return")
	assert.Equal(t, uint64(1), st.Recoveries, "after return: recoveries")
	assert.Equal(t, uint64(2), st.Logins, "after return: logins")
}

func TestFakeSessionClosedRetriedOnce(t *testing.T) {
	f := newFake("1234", oneToken())
	tok, err := openFake(t, f, Config{TokenLabel: "kmes", PIN: []byte("1234")}, false)
	require.NoError(t, err)
	defer tok.Close()
	f.closeAll()
	require.NoError(t, tok.GenerateRandom(t.Context(), make([]byte, 32)), "after C_CloseAllSessions")
	st := tok.Stats()
	assert.Equal(t, uint64(1), st.Reopens, "reopens")
	assert.Equal(t, uint64(2), st.Logins, "logins")
	assert.Equal(t, StateUp, st.State)
	// A session that dies again on its retry fails that call only: the
	// retry happens once, not in a loop, and the token stays up.
	f.setGen(func(int) ([]byte, error) { return nil, pkcs11.Error(pkcs11.CKR_SESSION_CLOSED) })
	err = tok.GenerateRandom(t.Context(), make([]byte, 32))
	require.ErrorContains(t, err, "CKR_SESSION_CLOSED")
	// Calls: the dead handle and its retry, then the closed session and its
	// one retry. Four, not more.
	_, req := f.stats()
	assert.Len(t, req, 4, "C_GenerateRandom calls")
	st = tok.Stats()
	assert.Equal(t, StateUp, st.State, "want up after one more reopen")
	assert.Equal(t, uint64(2), st.Reopens, "want up after one more reopen")
}

// TestFakeWrongPINOnceUnderConcurrency: the PIN stops working while eight
// goroutines are reading (the sessions are closed, so each needs a new
// login). C_Login is called once with the bad PIN, and never again.
func TestFakeWrongPINOnceUnderConcurrency(t *testing.T) {
	f := newFake("1234", oneToken())
	tok, err := openFake(t, f, Config{TokenLabel: "kmes", PIN: []byte("1234"), TokenOptions: TokenOptions{MaxSessions: 8}}, false)
	require.NoError(t, err)
	defer tok.Close()
	f.mu.Lock()
	f.pin = "changed"
	f.mu.Unlock()
	f.closeAll()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				err := tok.GenerateRandom(t.Context(), make([]byte, 32))
				if err != nil {
					assert.ErrorIs(t, err, ErrLoginFatal) // assert, not require: not the test's goroutine
				}
			}
		})
	}
	wg.Wait()
	logins, _ := f.stats()
	// The good one at Open, the bad one after the sessions closed.
	assert.Equal(t, 2, logins, "C_Login calls (once with the changed PIN)")
	err = tok.GenerateRandom(t.Context(), make([]byte, 32))
	assert.ErrorIs(t, err, ErrLoginFatal)
	assert.ErrorContains(t, err, "CKR_PIN_INCORRECT")
	assert.ErrorContains(t, err, "not retrying")
	assert.Equal(t, StateFailed, tok.Stats().State)
}

func TestFakeContextAndClose(t *testing.T) {
	f := newFake("", oneToken())
	tok, err := openFake(t, f, Config{TokenLabel: "kmes", TokenOptions: TokenOptions{MaxSessions: 1}}, false)
	require.NoError(t, err)
	release := make(chan struct{})
	entered := make(chan struct{})
	f.setGen(func(n int) ([]byte, error) {
		close(entered)
		<-release
		return bytes.Repeat([]byte{1, 2}, n/2), nil
	})
	done := make(chan error)
	go func() { done <- tok.GenerateRandom(context.Background(), make([]byte, 32)) }()
	<-entered
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, tok.GenerateRandom(ctx, make([]byte, 32)), context.DeadlineExceeded, "with the only session busy")
	closed := make(chan error)
	go func() { closed <- tok.Close() }()
	select {
	case <-closed:
		require.Fail(t, "Close returned while a call was in flight")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	assert.NoError(t, <-done, "call in flight")
	assert.NoError(t, <-closed, "Close")
	assert.ErrorIs(t, tok.GenerateRandom(t.Context(), make([]byte, 32)), ErrClosed, "after Close")
	assert.NoError(t, tok.Close(), "second Close")
}

func TestFakeSeedUnsupported(t *testing.T) {
	f := newFake("", oneToken())
	tok, err := openFake(t, f, Config{TokenLabel: "kmes"}, false)
	require.NoError(t, err)
	defer tok.Close()
	err = tok.SeedRandom(t.Context(), []byte("seed"))
	assert.ErrorIs(t, err, errors.ErrUnsupported)
	assert.ErrorContains(t, err, "CKR_RANDOM_SEED_NOT_SUPPORTED")
	assert.NoError(t, tok.SeedRandom(t.Context(), nil), "empty seed")
	assert.NoError(t, tok.GenerateRandom(t.Context(), make([]byte, 32)), "token unusable after an unsupported seed")
}

func TestFakePoolFailsOver(t *testing.T) {
	fa := newFake("", map[uint]*fakeToken{1: {label: "node-a", serial: "A", flags: fakeRNG}})
	fb := newFake("", map[uint]*fakeToken{2: {label: "node-b", serial: "B", flags: fakeRNG}})
	cfg := Config{TokenOptions: TokenOptions{BackoffMin: 30 * time.Millisecond, BackoffMax: 30 * time.Millisecond}}
	a, err := openFake(t, fa, cfg, false)
	require.NoError(t, err)
	b, err := openFake(t, fb, cfg, false)
	require.NoError(t, err)
	pool := &Pool{tokens: []*Token{a, b}}
	defer pool.Close()
	fa.setGen(func(int) ([]byte, error) { return nil, pkcs11.Error(pkcs11.CKR_DEVICE_ERROR) })
	for i := range 10 {
		require.NoError(t, pool.GenerateRandom(t.Context(), make([]byte, 32)), "draw %d with node-a failing", i)
	}
	st := pool.Stats()
	assert.Equal(t, StateDown, st[0].State, "node-a")
	assert.Equal(t, uint64(10), st[1].Calls, "node-b calls")
	// Both down: the pool says so at once, it does not wait for a back-off.
	fb.setGen(func(int) ([]byte, error) { return nil, pkcs11.Error(pkcs11.CKR_DEVICE_ERROR) })
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	require.ErrorIs(t, pool.GenerateRandom(ctx, make([]byte, 32)), ErrTokenDown, "every token down")
	require.NoError(t, ctx.Err(), "every token down: want ErrTokenDown before the deadline")
	// node-a heals; after its back-off it takes requests again.
	fa.setGen(nil)
	time.Sleep(2 * cfg.BackoffMax)
	fb.setGen(func(int) ([]byte, error) { return nil, pkcs11.Error(pkcs11.CKR_TOKEN_NOT_PRESENT) })
	for i := range 10 {
		require.NoError(t, pool.GenerateRandom(t.Context(), make([]byte, 32)), "draw %d with node-b failing", i)
	}
	st = pool.Stats()
	assert.Equal(t, StateUp, st[0].State, "node-a")
	assert.Equal(t, uint64(1), st[0].Recoveries, "node-a recoveries")
	assert.Equal(t, StateDown, st[1].State, "node-b")
	// Both fail for good: the pool says so instead of waiting forever.
	fa.mu.Lock()
	fa.slots[1].flags = 0
	fa.mu.Unlock()
	fb.mu.Lock()
	fb.slots[2].flags = 0
	fb.mu.Unlock()
	fa.setGen(func(int) ([]byte, error) { return nil, pkcs11.Error(pkcs11.CKR_DEVICE_ERROR) })
	fb.setGen(nil)
	time.Sleep(2 * cfg.BackoffMax)
	// node-a's device error takes it down, not out: while it may come
	// back, node-b's permanent failure does not make the pool's error
	// permanent.
	err = pool.GenerateRandom(ctx, make([]byte, 32))
	assert.ErrorIs(t, err, ErrTokenDown, "node-a down, node-b without RNG")
	assert.NotErrorIs(t, err, ErrNoRNG, "node-a down, node-b without RNG: want ErrTokenDown only")
	assert.ErrorContains(t, err, "token 2 of 2", "node-a down, node-b without RNG: want token 2's failure named")
	// After its back-off node-a is found without RNG too: now every token
	// has failed for good, and the pool says so instead of waiting forever.
	time.Sleep(2 * cfg.BackoffMax)
	err = pool.GenerateRandom(ctx, make([]byte, 32))
	assert.ErrorIs(t, err, ErrNoRNG, "every token without RNG")
	assert.NotErrorIs(t, err, ErrTokenDown, "every token without RNG")
	assert.NoError(t, ctx.Err(), "every token without RNG: want ErrNoRNG before the deadline")

}
