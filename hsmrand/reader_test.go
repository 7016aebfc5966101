package hsmrand

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/health"
	"github.com/hsmentropy/hsmentropy/hsmrand/internal/p11"
	"github.com/hsmentropy/hsmentropy/mixer"
)

func TestNewZeroOptions(t *testing.T) {
	var seed [32]byte
	r, err := New(rand.NewChaCha8(seed), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := make([]byte, 64)
	if n, err := r.Read(p); n != len(p) || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	st := r.Stats()
	if st.State != StateHealthy || st.Policy != FailClosed || st.Reads != 1 || st.BytesServed != 64 {
		t.Errorf("stats %+v; want healthy, fail-closed, 1 read of 64 bytes", st)
	}
	// The first request is one draw of DefaultHSMBuffer bytes, of which the
	// start-up test keeps the first health.StartUpSamples.
	if st.HSMCalls != 1 || st.HSMBytes != DefaultHSMBuffer {
		t.Errorf("HSM calls %d bytes %d; want 1 call of %d bytes", st.HSMCalls, st.HSMBytes, DefaultHSMBuffer)
	}
	shards := uint64(r.mx.Stats().Shards)
	if st.HSMUsed != shards*mixer.SeedLen {
		t.Errorf("HSMUsed %d; want %d shards × %d", st.HSMUsed, shards, mixer.SeedLen)
	}
	if want := DefaultHSMBuffer - health.StartUpSamples - int(st.HSMUsed); st.HSMBuffered < want {
		t.Errorf("HSMBuffered %d; want at least %d", st.HSMBuffered, want)
	}
	if st.MeanHSMLatency() <= 0 {
		t.Errorf("MeanHSMLatency %v", st.MeanHSMLatency())
	}
}

func TestNewNilSource(t *testing.T) {
	if _, err := New(nil, Options{}); err == nil {
		t.Fatal("New(nil) succeeded")
	}
}

func TestOptionsValidation(t *testing.T) {
	var seed [32]byte
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"policy", Options{Policy: 7}, "Policy"},
		{"deadline", Options{Deadline: -time.Second}, "Deadline"},
		{"small buffer", Options{HSMBuffer: MinHSMBuffer - 1}, "HSMBuffer"},
		{"large buffer", Options{HSMBuffer: MaxHSMBuffer + 1}, "HSMBuffer"},
		{"health", Options{Health: health.Config{MinEntropy: 9}}, "Health"},
		{"shards", Options{Shards: mixer.MaxShards + 1}, "Shards"},
		{"installed OS", Options{OS: &installed{}}, "installed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.opts
			_, err := New(rand.NewChaCha8(seed), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "hsmrand: ") {
				t.Errorf("New: %v; want an hsmrand error naming %s", err, tc.want)
			}
			if !reflect.DeepEqual(tc.opts, before) {
				t.Errorf("New changed its Options")
			}
		})
	}
}

func TestReadSmallSizes(t *testing.T) {
	r := newFakeReader(t, newFakeSource(1), Options{})
	for n := 0; n <= 2*mixer.DefaultBufferSize+1; n += 1 + n/7 {
		p := make([]byte, n)
		got, err := r.Read(p)
		if got != n || err != nil {
			t.Fatalf("Read(%d) = %d, %v", n, got, err)
		}
		if n >= 32 && bytes.Equal(p[:16], make([]byte, 16)) {
			t.Fatalf("Read(%d) left zeros", n)
		}
	}
}

// TestReadNeverAllocates: a Read served from a shard's buffer allocates
// nothing; the mixer's refills (3 allocations per 16 KiB) round to 0 per
// read, as go test -benchmem reports them.
func TestReadNeverAllocates(t *testing.T) {
	r := newFakeReader(t, newFakeSource(2), Options{})
	for _, n := range []int{1, 32, 4096} {
		p := make([]byte, n)
		if a := testing.AllocsPerRun(1000, func() {
			if _, err := r.Read(p); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("Read(%d): %v allocations per run, want 0", n, a)
		}
	}
}

func TestCloseWipesAndFailsForever(t *testing.T) {
	f := newFakeSource(3)
	var mu sync.Mutex
	var changes []State
	r := newFakeReader(t, f, Options{OnStateChange: func(_, to State, _ error) {
		mu.Lock()
		defer mu.Unlock()
		changes = append(changes, to)
	}})
	if _, err := r.GetRandom(64); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if !f.closed.Load() {
		t.Error("Close did not close the token")
	}
	if r.pool.ring.Len() != 0 || !r.pool.ring.Zeroed() || !allZero(r.pool.chunk) {
		t.Error("Close left HSM bytes in the buffer")
	}
	for range 3 {
		p := []byte{1, 2, 3}
		if n, err := r.Read(p); n != 0 || err != ErrClosed || !allZero(p) {
			t.Fatalf("Read after Close = %d, %v, %x; want 0, ErrClosed, zeroed", n, err, p)
		}
		if _, err := r.GetRandom(8); err != ErrClosed {
			t.Fatalf("GetRandom after Close: %v", err)
		}
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if st := r.Stats(); st.State != StateClosed || len(changes) != 1 || changes[0] != StateClosed {
		t.Errorf("state %v, changes %v; want closed, [closed]", st.State, changes)
	}
}

// TestPoolHandsOutEachByteOnceAndWipes checks the buffer's invariant after
// draining: every byte that is not waiting to be handed out is zero, and
// the bytes handed to the mixer are exactly the count.
func TestPoolHandsOutEachByteOnceAndWipes(t *testing.T) {
	r := newFakeReader(t, newFakeSource(4), Options{HSMBuffer: MinHSMBuffer})
	for range 200 {
		if _, err := r.GetRandom(16); err != nil {
			t.Fatal(err)
		}
		p := r.pool
		p.mu.Lock()
		zeroed, held := p.ring.Zeroed(), p.ring.Len()
		p.mu.Unlock()
		if !zeroed {
			t.Fatalf("a byte of the buffer (holding %d) was handed out or never filled, yet is not zero", held)
		}
	}
	st := r.Stats()
	if want := uint64(r.mx.Stats().Shards+200) * mixer.SeedLen; st.HSMUsed != want {
		t.Errorf("HSMUsed %d, want %d (instantiations and 200 GetRandom)", st.HSMUsed, want)
	}
	if st.HSMUsed+uint64(st.HSMBuffered)+health.StartUpSamples != st.HSMBytes {
		t.Errorf("used %d + buffered %d + start-up %d != drawn %d", st.HSMUsed, st.HSMBuffered, health.StartUpSamples, st.HSMBytes)
	}
}

// TestHSMBytesNeverOutput: no 8-byte window of 1 MiB of output, read in
// several sizes, appears in the HSM stream. (An accidental match has
// probability about 2^20 × 2^17 / 2^64 = 2^-27.)
func TestHSMBytesNeverOutput(t *testing.T) {
	f := newFakeSource(5)
	f.keep = true
	r := newFakeReader(t, f, Options{HSMBuffer: MinHSMBuffer, Reseed: ReseedPolicy{Calls: 1}})
	out := make([]byte, 0, 1<<20)
	for _, n := range []int{32, 100, 4096, 70000} {
		p := make([]byte, n)
		for range (1 << 18) / n {
			if _, err := r.Read(p); err != nil {
				t.Fatal(err)
			}
			out = append(out, p...)
		}
		g, err := r.GetRandom(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, g...)
	}
	f.mu.Lock()
	windows := make(map[uint64]bool)
	for _, b := range f.served {
		for i := 0; i+8 <= len(b); i++ {
			windows[binary.LittleEndian.Uint64(b[i:])] = true
		}
	}
	f.mu.Unlock()
	if len(windows) < 1<<12 {
		t.Fatalf("only %d HSM windows recorded", len(windows))
	}
	for i := 0; i+8 <= len(out); i++ {
		if windows[binary.LittleEndian.Uint64(out[i:])] {
			t.Fatalf("output bytes %d..%d are HSM bytes", i, i+8)
		}
	}
}

// TestIntermittentHealthFailureQuarantines: one HSM request with a run of
// 9 equal bytes fails the RCT (cutoff 9) intermittently. The request and
// everything buffered are wiped unused; reads go on; the state returns to
// healthy once the start-up test passes again.
func TestIntermittentHealthFailureQuarantines(t *testing.T) {
	f := newFakeSource(6)
	var mu sync.Mutex
	var changes []State
	r := newFakeReader(t, f, Options{HSMBuffer: MinHSMBuffer, OnStateChange: func(_, to State, _ error) {
		mu.Lock()
		changes = append(changes, to)
		mu.Unlock()
	}})
	f.set(fakeRunOf9)
	if err := drain(r, 200); err != nil {
		t.Fatalf("reads failed across an intermittent health failure: %v", err)
	}
	st := r.Stats()
	if st.HealthFailures != 1 || st.Health.RCT.Intermittent != 1 || st.Quarantined == 0 {
		t.Errorf("health failures %d (RCT intermittent %d), quarantined %d; want 1, 1, > 0", st.HealthFailures, st.Health.RCT.Intermittent, st.Quarantined)
	}
	if st.State != StateHealthy || !strings.Contains(st.LastError, "repetition count test") {
		t.Errorf("state %v, last error %q", st.State, st.LastError)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 2 || changes[0] != StateSourceDown || changes[1] != StateHealthy {
		t.Errorf("state changes %v; want [source-down healthy]", changes)
	}
}

// TestPermanentHealthFailureIsSticky: a stuck HSM fails the health tests
// for good. Under FailClosed every read fails from then on, as age's
// stream reader keeps failing after its first failure.
func TestPermanentHealthFailureIsSticky(t *testing.T) {
	f := newFakeSource(7)
	var mu sync.Mutex
	var got []State
	var cause error
	r := newFakeReader(t, f, Options{HSMBuffer: MinHSMBuffer, OnStateChange: func(_, to State, err error) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, to)
		cause = err
	}})
	f.set(fakeStuck)
	err := drain(r, 1000)
	if !errors.Is(err, ErrHealthFailure) || !errors.Is(err, health.ErrPermanent) {
		t.Fatalf("drain: %v; want ErrHealthFailure wrapping health.ErrPermanent", err)
	}
	var hf *health.Failure
	if !errors.As(err, &hf) || hf.Test != health.RCT {
		t.Errorf("error %v does not carry the RCT's *health.Failure", err)
	}
	f.set(fakeOK)
	for range 3 {
		p := make([]byte, 32)
		if _, err2 := r.Read(p); err2 != err || !allZero(p) {
			t.Fatalf("Read after the failure: %v, want the same sticky error and zeroed p", err2)
		}
	}
	st := r.Stats()
	mu.Lock()
	defer mu.Unlock()
	if st.State != StateFailed || st.Quarantined < MinHSMBuffer/2 || st.HSMBuffered != 0 || len(got) != 1 || got[0] != StateFailed || cause != err {
		t.Errorf("state %v quarantined %d buffered %d changes %v; want failed, ≥ %d, 0, [failed] with the error", st.State, st.Quarantined, st.HSMBuffered, got, MinHSMBuffer/2)
	}
}

// TestSourceFailedIsSticky: a token that stops for good (a PIN refused at
// a re-login) ends the stream; under FailClosed every read fails from then
// on with ErrSourceFailed.
func TestSourceFailedIsSticky(t *testing.T) {
	f := newFakeSource(14)
	r := newFakeReader(t, f, Options{HSMBuffer: MinHSMBuffer})
	f.set(fakeFatal)
	err := drain(r, 1000)
	if !errors.Is(err, ErrSourceFailed) || !errors.Is(err, p11.ErrLoginFatal) {
		t.Fatalf("drain: %v; want ErrSourceFailed wrapping the token's error", err)
	}
	calls := f.calls.Load()
	f.set(fakeOK)
	if _, err2 := r.Read(make([]byte, 8)); err2 != err {
		t.Errorf("Read after the failure: %v; want the sticky error", err2)
	}
	time.Sleep(20 * time.Millisecond)
	if f.calls.Load() != calls {
		t.Error("the refiller went on calling a token that failed for good")
	}
	if st := r.Stats(); st.State != StateFailed || st.HSMBuffered != 0 {
		t.Errorf("state %v, buffered %d; want failed, 0", st.State, st.HSMBuffered)
	}
}

// TestFailClosedDeadline: with the HSM down and the buffer empty, a read
// that needs HSM bytes waits for the deadline and fails with
// ErrUnavailable; it is not sticky, and reads work again once the HSM is.
func TestFailClosedDeadline(t *testing.T) {
	f := newFakeSource(8)
	r := newFakeReader(t, f, Options{HSMBuffer: MinHSMBuffer, Deadline: 30 * time.Millisecond})
	f.set(fakeDown)
	err := drain(r, 1000)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, errFakeDown) || !errors.Is(err, mixer.ErrPrimary) {
		t.Fatalf("drain: %v; want ErrUnavailable wrapping the token's error", err)
	}
	if st := r.Stats(); st.State != StateSourceDown || st.HSMErrors == 0 || st.OSOnlySeeds != 0 {
		t.Errorf("state %v HSM errors %d OS-only seeds %d; want source-down, > 0, 0", st.State, st.HSMErrors, st.OSOnlySeeds)
	}
	// The HSM has now been down for longer than the deadline: the next
	// request fails at once rather than waiting it out again (requests
	// queue for HSM bytes; each waiting a whole deadline would add up).
	if _, err := r.GetRandom(32); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "down for longer than") {
		t.Fatalf("second GetRandom: %v; want ErrUnavailable, down for longer than the deadline", err)
	}
	// Reads that need no HSM bytes go on.
	if _, err := r.Read(make([]byte, 32)); err != nil {
		t.Errorf("Read from a seeded shard: %v", err)
	}
	f.set(fakeOK)
	waitFor(t, "the refiller to recover", func() bool { return r.Stats().State == StateHealthy })
	if err := drain(r, 10); err != nil {
		t.Fatal(err)
	}
}

// TestDegrade: under Degrade, reads go on with the HSM down, seeded from
// the OS alone; the state, the OS-only seedings, the time degraded and the
// hook all show it, and the Reader is healthy again when the HSM is back.
func TestDegrade(t *testing.T) {
	f := newFakeSource(9)
	var mu sync.Mutex
	var changes []string
	r := newFakeReader(t, f, Options{Policy: Degrade, AllowOSOnlyGetRandom: true, HSMBuffer: MinHSMBuffer, OnStateChange: func(from, to State, err error) {
		mu.Lock()
		changes = append(changes, from.String()+">"+to.String())
		mu.Unlock()
	}})
	f.set(fakeDown)
	if err := drain(r, 200); err != nil {
		t.Fatalf("Degrade: reads failed: %v", err)
	}
	time.Sleep(5 * time.Millisecond)
	st := r.Stats()
	if st.State != StateDegraded || st.OSOnlySeeds == 0 || st.DegradedShards == 0 || st.DegradedTime <= 0 || st.ReadErrors != 0 || st.GetRandomOSOnly == 0 {
		t.Errorf("stats %+v; want degraded, OS-only seeds and GetRandom calls, degraded shards and time, no read errors", st)
	}
	f.set(fakeOK)
	waitFor(t, "recovery", func() bool {
		if err := drain(r, 1); err != nil {
			t.Fatal(err)
		}
		return r.Stats().State == StateHealthy
	})
	d := r.Stats().DegradedTime
	time.Sleep(2 * time.Millisecond)
	if r.Stats().DegradedTime != d {
		t.Error("DegradedTime still grows after recovery")
	}
	mu.Lock()
	defer mu.Unlock()
	want := "healthy>source-down source-down>degraded degraded>healthy"
	if got := strings.Join(changes, " "); got != want {
		t.Errorf("state changes %q; want %q", got, want)
	}
}

// TestDegradeAfterPermanentFailure: under Degrade a permanent failure is
// not sticky; the Reader stays degraded.
func TestDegradeAfterPermanentFailure(t *testing.T) {
	f := newFakeSource(10)
	r := newFakeReader(t, f, Options{Policy: Degrade, AllowOSOnlyGetRandom: true, HSMBuffer: MinHSMBuffer})
	f.set(fakeStuck)
	if err := drain(r, 200); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.State != StateDegraded || st.Health.State != health.Failed {
		t.Errorf("state %v, tester %v; want degraded, failed", st.State, st.Health.State)
	}
}

// TestNewNeedsHealthySeed: New and Open fail, whatever the policy, when
// the source cannot give a healthy seed.
func TestNewNeedsHealthySeed(t *testing.T) {
	for _, pol := range []Policy{FailClosed, Degrade} {
		for _, tc := range []struct {
			mode fakeMode
			want error
		}{{fakeStuck, ErrHealthFailure}, {fakeDown, ErrUnavailable}} {
			f := newFakeSource(11)
			f.set(tc.mode)
			_, err := newReader(t.Context(), f, &Options{Policy: pol, Deadline: 20 * time.Millisecond})
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), "no healthy seed") {
				t.Errorf("%v, mode %d: %v; want %v", pol, tc.mode, err, tc.want)
			}
			if !f.closed.Load() {
				t.Errorf("%v: the token was not closed after the failure", pol)
			}
		}
	}
	_, err := New(strings.NewReader("short"), Options{})
	if !errors.Is(err, ErrSourceFailed) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("New over an exhausted reader: %v; want ErrSourceFailed", err)
	}
}

// TestReadsDoNotWaitOnTheHSM: once New returns, reads are served while the
// HSM hangs; only the buffer is used.
func TestReadsDoNotWaitOnTheHSM(t *testing.T) {
	f := newFakeSource(12)
	r := newFakeReader(t, f, Options{})
	f.set(fakeBlock)
	defer f.set(fakeOK)
	done := make(chan error)
	go func() {
		p := make([]byte, 32)
		for range 10000 {
			if _, err := r.Read(p); err != nil {
				done <- err
				return
			}
		}
		_, err := r.GetRandom(1 << 17)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reads waited on a hung HSM")
	}
}

// TestDegradeHungHSM: under Degrade, an HSM whose request never returns is
// marked down once a read has waited out the deadline, so later reads go
// on from the OS at once; the stream is healthy again when it answers.
func TestDegradeHungHSM(t *testing.T) {
	const deadline = 50 * time.Millisecond
	f := newFakeSource(14)
	r := newFakeReader(t, f, Options{Policy: Degrade, AllowOSOnlyGetRandom: true, HSMBuffer: MinHSMBuffer, Deadline: deadline})
	f.set(fakeBlock)
	defer f.set(fakeOK)
	// Drain the buffer: the first GetRandom that finds it empty waits out
	// the deadline once and marks the stalled stream down.
	for i := 0; r.Stats().State == StateHealthy; i++ {
		if i == 2*MinHSMBuffer/mixer.SeedLen {
			t.Fatalf("still healthy after %d GetRandom calls with the HSM hung", i)
		}
		if _, err := r.GetRandom(32); err != nil {
			t.Fatal(err)
		}
	}
	if st := r.Stats(); !strings.Contains(st.LastError, "has not answered") {
		t.Errorf("state %v, last error %q; want the stall named", st.State, st.LastError)
	}
	start := time.Now()
	for range 20 {
		if _, err := r.GetRandom(32); err != nil {
			t.Fatal(err)
		}
	}
	// Had each waited out the deadline they would take 20 deadlines; half
	// of that leaves room for a loaded machine under -race.
	if d := time.Since(start); d >= 10*deadline {
		t.Errorf("20 GetRandom calls with the HSM marked down took %v; they still wait for it", d)
	}
	f.set(fakeOK)
	waitFor(t, "recovery", func() bool {
		if _, err := r.GetRandom(32); err != nil {
			t.Fatal(err)
		}
		return r.Stats().State == StateHealthy
	})
}

func TestGetRandom(t *testing.T) {
	r := newFakeReader(t, newFakeSource(13), Options{})
	used := r.Stats().HSMUsed
	for _, n := range []int{1, 32, mixer.MaxRequest, mixer.MaxRequest + 1} {
		b, err := r.GetRandom(n)
		if err != nil || len(b) != n {
			t.Fatalf("GetRandom(%d) = %d bytes, %v", n, len(b), err)
		}
		// One reseed from fresh HSM bytes per MaxRequest bytes.
		want := used + uint64((n+mixer.MaxRequest-1)/mixer.MaxRequest)*mixer.SeedLen
		if got := r.Stats().HSMUsed; got != want {
			t.Errorf("GetRandom(%d): HSM bytes used %d, want %d", n, got-used, want-used)
		}
		used = want
	}
	if b, err := r.GetRandom(0); err != nil || len(b) != 0 {
		t.Errorf("GetRandom(0) = %v, %v", b, err)
	}
	if _, err := r.GetRandom(-1); err == nil {
		t.Error("GetRandom(-1) succeeded")
	}
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// TestMaxBufferAge: buffered HSM bytes that wait longer than MaxBufferAge
// are wiped and drawn afresh, so the refiller asks the HSM at least that
// often even when nothing reads.
func TestMaxBufferAge(t *testing.T) {
	f := newFakeSource(15)
	r := newFakeReader(t, f, Options{HSMBuffer: MinHSMBuffer, MaxBufferAge: 20 * time.Millisecond})
	calls := r.Stats().HSMCalls
	waitFor(t, "buffered bytes to expire and be drawn again", func() bool {
		st := r.Stats()
		return st.Expired > 0 && st.HSMCalls >= calls+2
	})
	// With no limit nothing expires.
	r = newFakeReader(t, newFakeSource(16), Options{HSMBuffer: MinHSMBuffer, MaxBufferAge: -1})
	time.Sleep(50 * time.Millisecond)
	if st := r.Stats(); st.Expired != 0 {
		t.Errorf("MaxBufferAge < 0: %d bytes expired", st.Expired)
	}
}
