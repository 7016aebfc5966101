package hsmrand

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/health"
	"github.com/hsmentropy/hsmentropy/hsmrand/internal/p11"
	"github.com/hsmentropy/hsmentropy/mixer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewZeroOptions(t *testing.T) {
	var seed [32]byte
	r, err := New(rand.NewChaCha8(seed), Options{})
	require.NoError(t, err)
	defer r.Close()
	p := make([]byte, 64)
	n, err := r.Read(p)
	require.NoError(t, err, "Read")
	require.Equal(t, len(p), n, "Read")
	st := r.Stats()
	assert.Equal(t, StateHealthy, st.State)
	assert.Equal(t, FailClosed, st.Policy)
	assert.Equal(t, uint64(1), st.Reads, "reads")
	assert.Equal(t, uint64(64), st.BytesServed, "bytes served")
	// The first request is one draw of DefaultHSMBuffer bytes, of which the
	// start-up test keeps the first health.StartUpSamples.
	assert.Equal(t, uint64(1), st.HSMCalls, "HSM calls")
	assert.Equal(t, uint64(DefaultHSMBuffer), st.HSMBytes, "HSM bytes")
	shards := uint64(r.mx.Stats().Shards)
	assert.Equal(t, shards*mixer.SeedLen, st.HSMUsed, "HSMUsed: want %d shards × %d", shards, mixer.SeedLen)
	assert.GreaterOrEqual(t, st.HSMBuffered, DefaultHSMBuffer-health.StartUpSamples-int(st.HSMUsed), "HSMBuffered")
	assert.Positive(t, st.MeanHSMLatency(), "MeanHSMLatency")
}

func TestNewNilSource(t *testing.T) {
	_, err := New(nil, Options{})
	require.Error(t, err, "New(nil) succeeded")
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
			if assert.ErrorContains(t, err, tc.want, "New") {
				assert.True(t, strings.HasPrefix(err.Error(), "hsmrand: "), "New: %v; want an hsmrand error", err)
			}
			assert.Equal(t, before, tc.opts, "New changed its Options")
		})
	}
}

func TestReadSmallSizes(t *testing.T) {
	r := newFakeReader(t, newFakeSource(1), Options{})
	for n := 0; n <= 2*mixer.DefaultBufferSize+1; n += 1 + n/7 {
		p := make([]byte, n)
		got, err := r.Read(p)
		require.NoError(t, err, "Read(%d)", n)
		require.Equal(t, n, got, "Read(%d)", n)
		if n >= 32 {
			require.NotEqual(t, make([]byte, 16), p[:16], "Read(%d) left zeros", n)
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
		a := testing.AllocsPerRun(1000, func() {
			if _, err := r.Read(p); err != nil { // tested first: only the Read is measured
				require.NoError(t, err)
			}
		})
		assert.Zero(t, a, "Read(%d): allocations per run", n)
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
	_, err := r.GetRandom(64)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	assert.True(t, f.closed.Load(), "Close did not close the token")
	assert.Zero(t, r.pool.ring.Len(), "Close left HSM bytes in the buffer")
	assert.True(t, r.pool.ring.Zeroed(), "Close left HSM bytes in the buffer")
	assert.True(t, allZero(r.pool.chunk), "Close left HSM bytes in the buffer")
	for range 3 {
		p := []byte{1, 2, 3}
		n, err := r.Read(p)
		require.Zero(t, n, "Read after Close")
		require.Same(t, ErrClosed, err, "Read after Close: %v", err)
		require.Equal(t, make([]byte, 3), p, "Read after Close: want p zeroed")
		_, err = r.GetRandom(8)
		require.Same(t, ErrClosed, err, "GetRandom after Close: %v", err)
	}
	assert.NoError(t, r.Close(), "second Close")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, StateClosed, r.Stats().State)
	assert.Equal(t, []State{StateClosed}, changes, "state changes")
}

// TestPoolHandsOutEachByteOnceAndWipes checks the buffer's invariant after
// draining: every byte that is not waiting to be handed out is zero, and
// the bytes handed to the mixer are exactly the count.
func TestPoolHandsOutEachByteOnceAndWipes(t *testing.T) {
	r := newFakeReader(t, newFakeSource(4), Options{HSMBuffer: MinHSMBuffer})
	for range 200 {
		_, err := r.GetRandom(16)
		require.NoError(t, err)
		p := r.pool
		p.mu.Lock()
		zeroed, held := p.ring.Zeroed(), p.ring.Len()
		p.mu.Unlock()
		require.True(t, zeroed, "a byte of the buffer (holding %d) was handed out or never filled, yet is not zero", held)
	}
	// A refill counts its bytes drawn before it buffers them: let it end.
	settled(t, r)
	st := r.Stats()
	assert.Equal(t, uint64(r.mx.Stats().Shards+200)*mixer.SeedLen, st.HSMUsed, "HSMUsed (instantiations and 200 GetRandom)")
	assert.Equal(t, st.HSMBytes, st.HSMUsed+uint64(st.HSMBuffered)+health.StartUpSamples,
		"used %d + buffered %d + start-up %d, want the bytes drawn", st.HSMUsed, st.HSMBuffered, health.StartUpSamples)
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
			_, err := r.Read(p)
			require.NoError(t, err)
			out = append(out, p...)
		}
		g, err := r.GetRandom(n)
		require.NoError(t, err)
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
	require.GreaterOrEqual(t, len(windows), 1<<12, "HSM windows recorded")
	for i := 0; i+8 <= len(out); i++ {
		if windows[binary.LittleEndian.Uint64(out[i:])] { // tested first: a million calls of require would slow the test
			require.Failf(t, "HSM bytes in the output", "output bytes %d..%d are HSM bytes", i, i+8)
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
	require.NoError(t, drain(r, 200), "reads failed across an intermittent health failure")
	st := r.Stats()
	assert.Equal(t, uint64(1), st.HealthFailures, "health failures")
	assert.Equal(t, int64(1), st.Health.RCT.Intermittent, "RCT intermittent failures")
	assert.NotZero(t, st.Quarantined, "bytes quarantined")
	assert.Equal(t, StateHealthy, st.State)
	assert.Contains(t, st.LastError, "repetition count test", "last error")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []State{StateSourceDown, StateHealthy}, changes, "state changes")
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
	require.ErrorIs(t, err, ErrHealthFailure, "drain")
	require.ErrorIs(t, err, health.ErrPermanent, "drain")
	var hf *health.Failure
	if assert.ErrorAs(t, err, &hf, "the error carries the RCT's *health.Failure") {
		assert.Equal(t, health.RCT, hf.Test, "the error carries the RCT's *health.Failure")
	}
	f.set(fakeOK)
	for range 3 {
		p := make([]byte, 32)
		_, err2 := r.Read(p)
		require.Same(t, err, err2, "Read after the failure: %v, want the same sticky error", err2)
		require.Equal(t, make([]byte, 32), p, "Read after the failure: want p zeroed")
	}
	st := r.Stats()
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, StateFailed, st.State)
	assert.GreaterOrEqual(t, st.Quarantined, uint64(MinHSMBuffer/2), "bytes quarantined")
	assert.Zero(t, st.HSMBuffered, "bytes buffered")
	assert.Equal(t, []State{StateFailed}, got, "state changes")
	assert.Same(t, err, cause, "the state change's error: %v", cause)
}

// TestSourceFailedIsSticky: a token that stops for good (a PIN refused at
// a re-login) ends the stream; under FailClosed every read fails from then
// on with ErrSourceFailed.
func TestSourceFailedIsSticky(t *testing.T) {
	f := newFakeSource(14)
	r := newFakeReader(t, f, Options{HSMBuffer: MinHSMBuffer})
	f.set(fakeFatal)
	err := drain(r, 1000)
	require.ErrorIs(t, err, ErrSourceFailed, "drain")
	require.ErrorIs(t, err, p11.ErrLoginFatal, "drain: want the token's error wrapped")
	calls := f.calls.Load()
	f.set(fakeOK)
	_, err2 := r.Read(make([]byte, 8))
	assert.Same(t, err, err2, "Read after the failure: %v; want the sticky error", err2)
	time.Sleep(20 * time.Millisecond)
	assert.Equal(t, calls, f.calls.Load(), "the refiller went on calling a token that failed for good")
	st := r.Stats()
	assert.Equal(t, StateFailed, st.State)
	assert.Zero(t, st.HSMBuffered, "bytes buffered")
}

// TestFailClosedDeadline: with the HSM down and the buffer empty, a read
// that needs HSM bytes waits for the deadline and fails with
// ErrUnavailable; it is not sticky, and reads work again once the HSM is.
func TestFailClosedDeadline(t *testing.T) {
	f := newFakeSource(8)
	r := newFakeReader(t, f, Options{HSMBuffer: MinHSMBuffer, Deadline: 30 * time.Millisecond})
	f.set(fakeDown)
	err := drain(r, 1000)
	require.ErrorIs(t, err, ErrUnavailable, "drain")
	require.ErrorIs(t, err, errFakeDown, "drain: want the token's error wrapped")
	require.ErrorIs(t, err, mixer.ErrPrimary, "drain")
	st := r.Stats()
	assert.Equal(t, StateSourceDown, st.State)
	assert.NotZero(t, st.HSMErrors, "HSM errors")
	assert.Zero(t, st.OSOnlySeeds, "OS-only seeds")
	// The HSM has now been down for longer than the deadline: the next
	// request fails at once rather than waiting it out again (requests
	// queue for HSM bytes; each waiting a whole deadline would add up).
	_, err = r.GetRandom(32)
	require.ErrorIs(t, err, ErrUnavailable, "second GetRandom")
	require.ErrorContains(t, err, "down for longer than", "second GetRandom")
	// Reads that need no HSM bytes go on.
	_, err = r.Read(make([]byte, 32))
	assert.NoError(t, err, "Read from a seeded shard")
	f.set(fakeOK)
	waitFor(t, "the refiller to recover", func() bool { return r.Stats().State == StateHealthy })
	require.NoError(t, drain(r, 10))
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
	require.NoError(t, drain(r, 200), "Degrade: reads failed")
	time.Sleep(5 * time.Millisecond)
	st := r.Stats()
	assert.Equal(t, StateDegraded, st.State, "stats %+v", st)
	assert.NotZero(t, st.OSOnlySeeds, "OS-only seeds; stats %+v", st)
	assert.NotZero(t, st.DegradedShards, "degraded shards; stats %+v", st)
	assert.Positive(t, st.DegradedTime, "time degraded; stats %+v", st)
	assert.Zero(t, st.ReadErrors, "read errors; stats %+v", st)
	assert.NotZero(t, st.GetRandomOSOnly, "OS-only GetRandom calls; stats %+v", st)
	f.set(fakeOK)
	waitFor(t, "recovery", func() bool {
		require.NoError(t, drain(r, 1))
		return r.Stats().State == StateHealthy
	})
	d := r.Stats().DegradedTime
	time.Sleep(2 * time.Millisecond)
	assert.Equal(t, d, r.Stats().DegradedTime, "DegradedTime still grows after recovery")
	mu.Lock()
	defer mu.Unlock()
	want := "healthy>source-down source-down>degraded degraded>healthy"
	assert.Equal(t, want, strings.Join(changes, " "), "state changes")
}

// TestDegradeAfterPermanentFailure: under Degrade a permanent failure is
// not sticky; the Reader stays degraded.
func TestDegradeAfterPermanentFailure(t *testing.T) {
	f := newFakeSource(10)
	r := newFakeReader(t, f, Options{Policy: Degrade, AllowOSOnlyGetRandom: true, HSMBuffer: MinHSMBuffer})
	f.set(fakeStuck)
	require.NoError(t, drain(r, 200))
	st := r.Stats()
	assert.Equal(t, StateDegraded, st.State)
	assert.Equal(t, health.Failed, st.Health.State, "the health tester's state")
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
			assert.ErrorIs(t, err, tc.want, "%v, mode %d", pol, tc.mode)
			assert.ErrorContains(t, err, "no healthy seed", "%v, mode %d", pol, tc.mode)
			assert.True(t, f.closed.Load(), "%v: the token was not closed after the failure", pol)
		}
	}
	_, err := New(strings.NewReader("short"), Options{})
	assert.ErrorIs(t, err, ErrSourceFailed, "New over an exhausted reader")
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "New over an exhausted reader")
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
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		require.Fail(t, "reads waited on a hung HSM")
	}
}

// TestDegradeHungHSM: under Degrade, an HSM whose request never returns is
// marked down once a read has waited out the deadline, so later reads go
// on from the OS at once; the stream is healthy again when it answers.
func TestDegradeHungHSM(t *testing.T) {
	// Long enough that 20 reads on a loaded machine under -race take less
	// than half of 20 deadlines, which is what tells "did not wait" from
	// "waited".
	const deadline = 250 * time.Millisecond
	f := newFakeSource(14)
	r := newFakeReader(t, f, Options{Policy: Degrade, AllowOSOnlyGetRandom: true, HSMBuffer: MinHSMBuffer, Deadline: deadline})
	f.set(fakeBlock)
	defer f.set(fakeOK)
	// Drain the buffer: the first GetRandom that finds it empty waits out
	// the deadline once and marks the stalled stream down.
	for i := 0; r.Stats().State == StateHealthy; i++ {
		require.Less(t, i, 2*MinHSMBuffer/mixer.SeedLen, "still healthy after %d GetRandom calls with the HSM hung", i)
		_, err := r.GetRandom(32)
		require.NoError(t, err)
	}
	st := r.Stats()
	assert.Contains(t, st.LastError, "has not answered", "state %v, last error: want the stall named", st.State)
	start := time.Now()
	for range 20 {
		_, err := r.GetRandom(32)
		require.NoError(t, err)
	}
	// Had each waited out the deadline they would take 20 deadlines; half
	// of that leaves room for a loaded machine under -race.
	assert.Less(t, time.Since(start), 10*deadline, "20 GetRandom calls with the HSM marked down: they still wait for it")
	f.set(fakeOK)
	waitFor(t, "recovery", func() bool {
		_, err := r.GetRandom(32)
		require.NoError(t, err)
		return r.Stats().State == StateHealthy
	})
}

func TestGetRandom(t *testing.T) {
	r := newFakeReader(t, newFakeSource(13), Options{})
	used := r.Stats().HSMUsed
	for _, n := range []int{1, 32, mixer.MaxRequest, mixer.MaxRequest + 1} {
		b, err := r.GetRandom(n)
		require.NoError(t, err, "GetRandom(%d)", n)
		require.Len(t, b, n, "GetRandom(%d)", n)
		// One reseed from fresh HSM bytes per MaxRequest bytes.
		want := used + uint64((n+mixer.MaxRequest-1)/mixer.MaxRequest)*mixer.SeedLen
		assert.Equal(t, want-used, r.Stats().HSMUsed-used, "GetRandom(%d): HSM bytes used", n)
		used = want
	}
	b, err := r.GetRandom(0)
	assert.NoError(t, err, "GetRandom(0)")
	assert.Empty(t, b, "GetRandom(0)")
	_, err = r.GetRandom(-1)
	assert.Error(t, err, "GetRandom(-1) succeeded")
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
	assert.Zero(t, r.Stats().Expired, "MaxBufferAge < 0: bytes expired")

}
