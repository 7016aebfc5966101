package hsmrand

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/health"
	"github.com/hsmentropy/hsmentropy/mixer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// drainUntilError calls GetRandom(32) until one fails, at most limit
// times, and returns the error and the number of calls that succeeded.
func drainUntilError(r *Reader, limit int) (int, error) {
	for i := range limit {
		if _, err := r.GetRandom(32); err != nil {
			return i, err
		}
	}
	return limit, nil
}

// TestGetRandomNeverOverstates: with the HSM down, once the buffer is
// empty GetRandom fails under either policy, although Read under Degrade
// goes on from the OS: no GetRandom output rests on the OS alone, and
// nothing is counted as OS-only.
func TestGetRandomNeverOverstates(t *testing.T) {
	for _, pol := range []Policy{FailClosed, Degrade} {
		t.Run(pol.String(), func(t *testing.T) {
			f := newFakeSource(30)
			r := newFakeReader(t, f, Options{Policy: pol, HSMBuffer: MinHSMBuffer, Deadline: 50 * time.Millisecond})
			before := r.Stats()
			f.set(fakeDown)
			served, err := drainUntilError(r, 2*MinHSMBuffer/mixer.SeedLen)
			require.Error(t, err, "GetRandom went on with the HSM down")
			assert.ErrorIs(t, err, ErrUnavailable)
			assert.LessOrEqual(t, served, MinHSMBuffer/mixer.SeedLen, "more calls served than the buffer holds seeds")
			for range 10 {
				b, err := r.GetRandom(32)
				assert.ErrorIs(t, err, ErrUnavailable)
				assert.Nil(t, b)
			}
			st := r.Stats()
			assert.Zero(t, st.GetRandomOSOnly)
			assert.Zero(t, st.OSOnlySeeds)
			assert.Zero(t, st.DegradedShards)
			assert.Equal(t, StateSourceDown, st.State)
			assert.Equal(t, uint64(served)*mixer.SeedLen, st.HSMUsed-before.HSMUsed, "every GetRandom served took its own HSM seed")

			f.set(fakeOK)
			waitFor(t, "GetRandom to serve again", func() bool {
				_, err := r.GetRandom(32)
				return err == nil
			})
		})
	}
}

// TestGetRandomAllowOSOnly: with Options.AllowOSOnlyGetRandom, GetRandom
// under Degrade goes on with the HSM down, and counts exactly the calls
// whose output followed a reseed from the OS alone: every call either took
// SeedLen HSM bytes or was counted.
func TestGetRandomAllowOSOnly(t *testing.T) {
	f := newFakeSource(31)
	r := newFakeReader(t, f, Options{Policy: Degrade, AllowOSOnlyGetRandom: true, HSMBuffer: MinHSMBuffer, Deadline: 50 * time.Millisecond})
	before := r.Stats()
	f.set(fakeDown)
	const calls = 200
	for range calls {
		b, err := r.GetRandom(32)
		require.NoError(t, err)
		require.Len(t, b, 32)
	}
	st := r.Stats()
	fromHSM := (st.HSMUsed - before.HSMUsed) / mixer.SeedLen
	assert.Positive(t, st.GetRandomOSOnly)
	assert.Equal(t, uint64(calls), fromHSM+st.GetRandomOSOnly, "calls from the HSM %d + OS-only %d", fromHSM, st.GetRandomOSOnly)
	assert.Equal(t, st.GetRandomOSOnly, st.OSOnlySeeds)
	assert.Equal(t, StateDegraded, st.State)

	f.set(fakeOK)
	waitFor(t, "recovery", func() bool {
		_, err := r.GetRandom(32)
		require.NoError(t, err)
		return r.Stats().State == StateHealthy
	})
	counted := r.Stats().GetRandomOSOnly
	require.NoError(t, drain(r, 10))
	assert.Equal(t, counted, r.Stats().GetRandomOSOnly, "calls seeded from the HSM were counted as OS-only")
}

func TestGetRandomOptionsValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"OS-only under FailClosed", Options{AllowOSOnlyGetRandom: true}, "needs Policy Degrade"},
		{"OS-only and live", Options{Policy: Degrade, AllowOSOnlyGetRandom: true, LiveGetRandom: true}, "LiveGetRandom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(rand.NewChaCha8([32]byte{}), tc.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// liveFake is a fakeSource whose requests shorter than the refiller's
// (which are at least half the buffer) are corrupted while corrupt is set:
// with MinHSMBuffer, those are GetRandom's live draws.
type liveFake struct {
	*fakeSource
	corrupt atomic.Int32 // a liveCorruption
	live    atomic.Int64 // requests shorter than the refiller's
}

type liveCorruption int32

const (
	liveOK     liveCorruption = iota
	liveRunOf9                // a run of 9 equal bytes: an intermittent RCT failure
	liveZero                  // all zero: a permanent RCT failure (17 equal bytes)
)

// newLiveFakeReader returns a Reader over f, closed at the end of the test.
func newLiveFakeReader(t *testing.T, f *liveFake, opts Options) *Reader {
	t.Helper()
	r, err := newReader(t.Context(), f, &opts)
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	return r
}

func (f *liveFake) GenerateRandom(ctx context.Context, p []byte) error {
	if err := f.fakeSource.GenerateRandom(ctx, p); err != nil {
		return err
	}
	if len(p) >= MinHSMBuffer/2 {
		return nil
	}
	f.live.Add(1)
	switch liveCorruption(f.corrupt.Load()) {
	case liveRunOf9:
		p[0], p[10] = 0x5A, 0x5A
		for i := 1; i < 10; i++ {
			p[i] = 0xA5
		}
	case liveZero:
		clear(p)
	}
	return nil
}

// TestGetRandomLive: with Options.LiveGetRandom each call makes its own
// request to the HSM, SeedLen bytes per 64 KiB of output, and leaves the
// buffer alone.
func TestGetRandomLive(t *testing.T) {
	f := &liveFake{fakeSource: newFakeSource(32)}
	r := newLiveFakeReader(t, f, Options{LiveGetRandom: true, HSMBuffer: MinHSMBuffer})
	before := r.Stats()
	for i, n := range []int{1, 32, mixer.MaxRequest, 2*mixer.MaxRequest + 1} {
		b, err := r.GetRandom(n)
		require.NoError(t, err)
		require.Len(t, b, n)
		assert.Equal(t, int64(i+1), f.live.Load(), "live requests after %d calls", i+1)
	}
	st := r.Stats()
	assert.Equal(t, uint64(4), st.LiveCalls)
	assert.Equal(t, uint64(4), st.HSMCalls-before.HSMCalls)
	assert.Equal(t, uint64(1+1+1+3)*mixer.SeedLen, st.HSMUsed-before.HSMUsed, "HSM bytes used")
	assert.Equal(t, before.HSMBuffered, st.HSMBuffered, "GetRandom took bytes from the buffer")
	assert.Zero(t, st.GetRandomOSOnly)
}

// TestGetRandomLiveHealthFailure: a live draw that fails the health tests
// never yields output: an intermittent failure fails the call (and
// quarantines the buffer, as the refiller would), a permanent one ends
// the stream (sticky under FailClosed).
func TestGetRandomLiveHealthFailure(t *testing.T) {
	for _, pol := range []Policy{FailClosed, Degrade} {
		t.Run(pol.String(), func(t *testing.T) {
			f := &liveFake{fakeSource: newFakeSource(33)}
			r := newLiveFakeReader(t, f, Options{Policy: pol, LiveGetRandom: true, HSMBuffer: MinHSMBuffer})

			f.corrupt.Store(int32(liveRunOf9))
			b, err := r.GetRandom(32)
			assert.Nil(t, b)
			require.ErrorIs(t, err, ErrUnavailable)
			assert.ErrorIs(t, err, health.ErrIntermittent)
			st := r.Stats()
			assert.Equal(t, uint64(1), st.HealthFailures)
			assert.GreaterOrEqual(t, st.Quarantined, uint64(mixer.SeedLen))

			f.corrupt.Store(int32(liveOK))
			waitFor(t, "GetRandom to serve again", func() bool {
				_, err := r.GetRandom(32)
				return err == nil
			})

			f.corrupt.Store(int32(liveZero))
			b, err = r.GetRandom(32)
			assert.Nil(t, b)
			require.ErrorIs(t, err, ErrHealthFailure)
			assert.ErrorIs(t, err, health.ErrPermanent)
			f.corrupt.Store(int32(liveOK))
			b, err = r.GetRandom(32)
			assert.Nil(t, b, "output after a permanent health failure")
			assert.Error(t, err)
			if pol == FailClosed {
				assert.ErrorIs(t, err, ErrHealthFailure)
				assert.Equal(t, StateFailed, r.Stats().State)
			}
		})
	}
}

// TestGetRandomLiveHung: with the HSM hung, live calls fail closed at the
// deadline under either policy, though the buffer is full; the Reader
// closes once the HSM answers.
func TestGetRandomLiveHung(t *testing.T) {
	for _, pol := range []Policy{FailClosed, Degrade} {
		t.Run(pol.String(), func(t *testing.T) {
			const deadline = 50 * time.Millisecond
			f := newFakeSource(34)
			r := newFakeReader(t, f, Options{Policy: pol, LiveGetRandom: true, HSMBuffer: MinHSMBuffer, Deadline: deadline})
			f.set(fakeBlock)
			defer f.set(fakeOK)
			start := time.Now()
			b, err := r.GetRandom(32)
			assert.Nil(t, b)
			require.ErrorIs(t, err, ErrUnavailable)
			assert.True(t, strings.Contains(err.Error(), "longer than") || errors.Is(err, context.DeadlineExceeded), "error %v", err)
			// Room for a loaded machine under -race; the point is that it returns.
			assert.Less(t, time.Since(start), 10*deadline+2*time.Second)
			assert.Equal(t, uint64(1), r.Stats().ReadErrors)
			// Reads go on from the buffer.
			_, err = r.Read(make([]byte, 32))
			assert.NoError(t, err)
		})
	}
}

// TestGetRandomLiveSerialSource: New over an io.Reader (not safe for
// concurrent use) with LiveGetRandom: the live draws and the refiller take
// turns, which the race detector checks.
func TestGetRandomLiveSerialSource(t *testing.T) {
	r, err := New(rand.NewChaCha8([32]byte{35}), Options{LiveGetRandom: true, HSMBuffer: MinHSMBuffer, Reseed: ReseedPolicy{Bytes: 4096}})
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	require.IsType(t, &serialSource{}, r.pool.src)
	done := make(chan error, 4)
	for range 4 {
		go func() {
			p := make([]byte, 1024)
			for range 200 {
				if _, err := r.GetRandom(32); err != nil {
					done <- err
					return
				}
				if _, err := r.Read(p); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		require.NoError(t, <-done)
	}
	assert.Equal(t, uint64(800), r.Stats().LiveCalls)
}

func TestConfigFromEnvGetRandom(t *testing.T) {
	for v, want := range map[string]bool{"": false, "buffered": false, "live": true} {
		c, err := ConfigFromEnv(func(k string) string {
			return map[string]string{EnvURI: "pkcs11:token=a?module-path=/x.so", EnvGetRandom: v}[k]
		})
		require.NoError(t, err, "%s=%q", EnvGetRandom, v)
		assert.Equal(t, want, c.LiveGetRandom, "%s=%q", EnvGetRandom, v)
	}
	_, err := ConfigFromEnv(func(k string) string {
		return map[string]string{EnvURI: "pkcs11:token=a?module-path=/x.so", EnvGetRandom: "os"}[k]
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), EnvGetRandom)
}

// TestStickyBeforeTheReport: in the moment between the pool ending the
// stream and its report reaching the Reader (onSourceFailed), a GetRandom
// that meets the failure makes it sticky under FailClosed, so a Read just
// after it fails with the same error instead of being served.
func TestStickyBeforeTheReport(t *testing.T) {
	r := newFakeReader(t, newFakeSource(36), Options{HSMBuffer: MinHSMBuffer})
	cause := fmt.Errorf("%w: test", ErrHealthFailure)
	p := r.pool
	p.mu.Lock() // what pool.fail does before it reports
	p.ring.Wipe()
	p.fatal, p.down, p.downSince = cause, cause, time.Now()
	p.mu.Unlock()

	b, err := r.GetRandom(32)
	assert.Nil(t, b)
	require.Equal(t, cause, err)
	buf := make([]byte, 32)
	_, err = r.Read(buf)
	assert.Equal(t, cause, err)
}
