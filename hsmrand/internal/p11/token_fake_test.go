package p11

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
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
	if !errors.Is(err, ErrNoRNG) {
		t.Fatalf("Open on a token without CKF_RNG: got %v, want ErrNoRNG", err)
	}
	if !strings.Contains(err.Error(), "CKF_RNG") || !strings.Contains(err.Error(), `"norng"`) {
		t.Errorf("error does not name CKF_RNG and the token: %v", err)
	}
	// A Pool treats it as a configuration error too.
	if _, err := openFake(t, f, Config{TokenLabel: "norng"}, true); !errors.Is(err, ErrNoRNG) {
		t.Errorf("lenient open: got %v, want ErrNoRNG", err)
	}
}

func TestFakeChunksAndMinimumDraw(t *testing.T) {
	f := newFake("", oneToken())
	tok, err := openFake(t, f, Config{TokenLabel: "kmes"}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	p := make([]byte, 3*MaxChunk+5)
	if err := tok.GenerateRandom(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	small := make([]byte, 5)
	if err := tok.GenerateRandom(t.Context(), small); err != nil {
		t.Fatal(err)
	}
	_, req := f.stats()
	want := []int{MaxChunk, MaxChunk, MaxChunk, minDraw, minDraw}
	if !slices.Equal(req, want) {
		t.Errorf("C_GenerateRandom lengths = %v, want %v", req, want)
	}
	if st := tok.Stats(); st.Calls != 5 || st.Bytes != uint64(3*MaxChunk+2*minDraw) {
		t.Errorf("Stats calls=%d bytes=%d, want 5 and %d", st.Calls, st.Bytes, 3*MaxChunk+2*minDraw)
	}
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
			if err != nil {
				t.Fatal(err)
			}
			defer tok.Close()
			f.setGen(c.gen)
			p := bytes.Repeat([]byte{0xFF}, 100)
			err = tok.GenerateRandom(t.Context(), p)
			if c.name == "repeated" { // the first block is fine; the second repeats it
				if err != nil {
					t.Fatalf("first block: %v", err)
				}
				err = tok.GenerateRandom(t.Context(), p)
			}
			if !errors.Is(err, ErrBadBlock) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrBadBlock %q", err, c.want)
			}
			if !bytes.Equal(p, make([]byte, len(p))) {
				t.Error("p not zeroed after a bad block")
			}
			if st := tok.Stats(); st.State != StateDown || st.Errors["bad-block"] != 1 {
				t.Errorf("state %v errors %v, want down with one bad-block", st.State, st.Errors)
			}
			if err := tok.GenerateRandom(t.Context(), p); !errors.Is(err, ErrTokenDown) {
				t.Errorf("during back-off: got %v, want ErrTokenDown", err)
			}
		})
	}
}

func TestFakeDeviceRemovedComesBack(t *testing.T) {
	f := newFake("1234", oneToken())
	tok, err := openFake(t, f, Config{Serial: "S1", PIN: []byte("1234"), TokenOptions: TokenOptions{BackoffMin: 20 * time.Millisecond, BackoffMax: 40 * time.Millisecond}}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	p := make([]byte, 64)
	if err := tok.GenerateRandom(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	// The device is unplugged: the call fails with CKR_DEVICE_REMOVED.
	f.setGen(func(int) ([]byte, error) { return nil, pkcs11.Error(pkcs11.CKR_DEVICE_REMOVED) })
	err = tok.GenerateRandom(t.Context(), p)
	if !errors.Is(err, ErrTokenDown) || !errors.Is(err, pkcs11.Error(pkcs11.CKR_DEVICE_REMOVED)) ||
		!strings.Contains(err.Error(), "CKR_DEVICE_REMOVED") || !strings.Contains(err.Error(), "backing off") {
		t.Fatalf("got %v, want ErrTokenDown naming CKR_DEVICE_REMOVED and the back-off", err)
	}
	f.remove(7)
	f.setGen(nil)
	// While it is away, calls fail fast, and looking again finds nothing.
	deadline := time.Now().Add(2 * time.Second)
	for tok.Stats().Errors["token-not-found"] == 0 && time.Now().Before(deadline) {
		if err := tok.GenerateRandom(t.Context(), p); !errors.Is(err, ErrTokenDown) && !errors.Is(err, ErrTokenNotFound) {
			t.Fatalf("while removed: %v", err)
		}
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
	if err != nil {
		t.Fatalf("token did not come back: %v", err)
	}
	st := tok.Stats()
	if st.State != StateUp || st.Slot != 42 || st.Recoveries != 1 || st.Logins != 2 {
		t.Errorf("after return: state %v slot %d recoveries %d logins %d; want up, 42, 1, 2", st.State, st.Slot, st.Recoveries, st.Logins)
	}
}

func TestFakeSessionClosedRetriedOnce(t *testing.T) {
	f := newFake("1234", oneToken())
	tok, err := openFake(t, f, Config{TokenLabel: "kmes", PIN: []byte("1234")}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	f.closeAll()
	if err := tok.GenerateRandom(t.Context(), make([]byte, 32)); err != nil {
		t.Fatalf("after C_CloseAllSessions: %v", err)
	}
	if st := tok.Stats(); st.Reopens != 1 || st.Logins != 2 || st.State != StateUp {
		t.Errorf("reopens %d logins %d state %v; want 1, 2, up", st.Reopens, st.Logins, st.State)
	}
	// A session that dies again on its retry fails that call only: the
	// retry happens once, not in a loop, and the token stays up.
	f.setGen(func(int) ([]byte, error) { return nil, pkcs11.Error(pkcs11.CKR_SESSION_CLOSED) })
	err = tok.GenerateRandom(t.Context(), make([]byte, 32))
	if !strings.Contains(err.Error(), "CKR_SESSION_CLOSED") {
		t.Fatalf("got %v, want CKR_SESSION_CLOSED", err)
	}
	// Calls: the dead handle and its retry, then the closed session and its
	// one retry. Four, not more.
	if _, req := f.stats(); len(req) != 4 {
		t.Errorf("C_GenerateRandom called %d times, want 4", len(req))
	}
	if st := tok.Stats(); st.State != StateUp || st.Reopens != 2 {
		t.Errorf("state %v reopens %d, want up after one more reopen", st.State, st.Reopens)
	}
}

// TestFakeWrongPINOnceUnderConcurrency: the PIN stops working while eight
// goroutines are reading (the sessions are closed, so each needs a new
// login). C_Login is called once with the bad PIN, and never again.
func TestFakeWrongPINOnceUnderConcurrency(t *testing.T) {
	f := newFake("1234", oneToken())
	tok, err := openFake(t, f, Config{TokenLabel: "kmes", PIN: []byte("1234"), TokenOptions: TokenOptions{MaxSessions: 8}}, false)
	if err != nil {
		t.Fatal(err)
	}
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
				if err != nil && !errors.Is(err, ErrLoginFatal) {
					t.Errorf("got %v, want ErrLoginFatal", err)
				}
			}
		})
	}
	wg.Wait()
	logins, _ := f.stats()
	if logins != 2 { // the good one at Open, the bad one after the sessions closed
		t.Errorf("C_Login called %d times, want 2 (once with the changed PIN)", logins)
	}
	err = tok.GenerateRandom(t.Context(), make([]byte, 32))
	if !errors.Is(err, ErrLoginFatal) || !strings.Contains(err.Error(), "CKR_PIN_INCORRECT") || !strings.Contains(err.Error(), "not retrying") {
		t.Errorf("got %v", err)
	}
	if st := tok.Stats(); st.State != StateFailed {
		t.Errorf("state %v, want failed", st.State)
	}
}

func TestFakeContextAndClose(t *testing.T) {
	f := newFake("", oneToken())
	tok, err := openFake(t, f, Config{TokenLabel: "kmes", TokenOptions: TokenOptions{MaxSessions: 1}}, false)
	if err != nil {
		t.Fatal(err)
	}
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
	if err := tok.GenerateRandom(ctx, make([]byte, 32)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("with the only session busy: got %v, want DeadlineExceeded", err)
	}
	closed := make(chan error)
	go func() { closed <- tok.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned while a call was in flight")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("call in flight: %v", err)
	}
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := tok.GenerateRandom(t.Context(), make([]byte, 32)); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: got %v, want ErrClosed", err)
	}
	if err := tok.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestFakeSeedUnsupported(t *testing.T) {
	f := newFake("", oneToken())
	tok, err := openFake(t, f, Config{TokenLabel: "kmes"}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	err = tok.SeedRandom(t.Context(), []byte("seed"))
	if !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "CKR_RANDOM_SEED_NOT_SUPPORTED") {
		t.Errorf("got %v", err)
	}
	if err := tok.SeedRandom(t.Context(), nil); err != nil {
		t.Errorf("empty seed: %v", err)
	}
	if err := tok.GenerateRandom(t.Context(), make([]byte, 32)); err != nil {
		t.Errorf("token unusable after an unsupported seed: %v", err)
	}
}

func TestFakePoolFailsOver(t *testing.T) {
	fa := newFake("", map[uint]*fakeToken{1: {label: "node-a", serial: "A", flags: fakeRNG}})
	fb := newFake("", map[uint]*fakeToken{2: {label: "node-b", serial: "B", flags: fakeRNG}})
	cfg := Config{TokenOptions: TokenOptions{BackoffMin: 30 * time.Millisecond, BackoffMax: 30 * time.Millisecond}}
	a, err := openFake(t, fa, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := openFake(t, fb, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	pool := &Pool{tokens: []*Token{a, b}}
	defer pool.Close()
	fa.setGen(func(int) ([]byte, error) { return nil, pkcs11.Error(pkcs11.CKR_DEVICE_ERROR) })
	for i := range 10 {
		if err := pool.GenerateRandom(t.Context(), make([]byte, 32)); err != nil {
			t.Fatalf("draw %d with node-a failing: %v", i, err)
		}
	}
	st := pool.Stats()
	if st[0].State != StateDown || st[1].Calls != 10 {
		t.Errorf("node-a %v, node-b calls %d; want down and 10", st[0].State, st[1].Calls)
	}
	// Both down: the pool says so at once, it does not wait for a back-off.
	fb.setGen(func(int) ([]byte, error) { return nil, pkcs11.Error(pkcs11.CKR_DEVICE_ERROR) })
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if err := pool.GenerateRandom(ctx, make([]byte, 32)); !errors.Is(err, ErrTokenDown) || ctx.Err() != nil {
		t.Fatalf("every token down: got %v, want ErrTokenDown before the deadline", err)
	}
	// node-a heals; after its back-off it takes requests again.
	fa.setGen(nil)
	time.Sleep(2 * cfg.BackoffMax)
	fb.setGen(func(int) ([]byte, error) { return nil, pkcs11.Error(pkcs11.CKR_TOKEN_NOT_PRESENT) })
	for i := range 10 {
		if err := pool.GenerateRandom(t.Context(), make([]byte, 32)); err != nil {
			t.Fatalf("draw %d with node-b failing: %v", i, err)
		}
	}
	st = pool.Stats()
	if st[0].State != StateUp || st[0].Recoveries != 1 || st[1].State != StateDown {
		t.Errorf("node-a %v (recoveries %d), node-b %v; want up (1), down", st[0].State, st[0].Recoveries, st[1].State)
	}
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
	if !errors.Is(err, ErrTokenDown) || errors.Is(err, ErrNoRNG) || !strings.Contains(err.Error(), "token 2 of 2") {
		t.Errorf("node-a down, node-b without RNG: got %v, want ErrTokenDown only, naming token 2's failure", err)
	}
	// After its back-off node-a is found without RNG too: now every token
	// has failed for good, and the pool says so instead of waiting forever.
	time.Sleep(2 * cfg.BackoffMax)
	err = pool.GenerateRandom(ctx, make([]byte, 32))
	if !errors.Is(err, ErrNoRNG) || errors.Is(err, ErrTokenDown) || ctx.Err() != nil {
		t.Errorf("every token without RNG: got %v, want ErrNoRNG before the deadline", err)
	}
}
