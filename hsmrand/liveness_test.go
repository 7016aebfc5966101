package hsmrand

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An idle Reader with a full buffer sees the HSM go away through its
// liveness probe, without a single read, and sees it come back.
func TestProbeShowsOutageWhenIdle(t *testing.T) {
	for _, pol := range []Policy{FailClosed, Degrade} {
		t.Run(pol.String(), func(t *testing.T) {
			f := newFakeSource(21)
			r := newFakeReader(t, f, Options{Policy: pol, HSMBuffer: MinHSMBuffer, ProbeInterval: 20 * time.Millisecond})
			waitFor(t, "a probe", func() bool { return r.Stats().Probes > 0 })
			require.Equal(t, StateHealthy, r.Stats().State)
			reads := r.Stats().Reads

			f.set(fakeDown)
			waitFor(t, "the outage to show", func() bool { return r.Stats().State == StateSourceDown })
			st := r.Stats()
			assert.Equal(t, reads, st.Reads, "no read was needed to see the outage")
			assert.Positive(t, st.HSMBuffered, "the buffered bytes are still there")
			assert.NotZero(t, st.HSMErrors)

			f.set(fakeOK)
			waitFor(t, "the recovery to show", func() bool { return r.Stats().State == StateHealthy })
		})
	}
}

// A probe that hangs (a network HSM whose connection stalls) shows as an
// outage after one deadline, with no read waiting on it.
func TestProbeHungShowsOutage(t *testing.T) {
	f := newFakeSource(22)
	r := newFakeReader(t, f, Options{HSMBuffer: MinHSMBuffer, ProbeInterval: 10 * time.Millisecond, Deadline: 50 * time.Millisecond})
	f.set(fakeBlock)
	waitFor(t, "the hang to show", func() bool { return r.Stats().State == StateSourceDown })
	assert.Contains(t, r.Stats().LastError, "has not answered")
	f.set(fakeOK)
	waitFor(t, "the recovery to show", func() bool { return r.Stats().State == StateHealthy })
}

// A negative ProbeInterval turns the probe off: an idle Reader does not
// call the HSM.
func TestProbeOff(t *testing.T) {
	f := newFakeSource(23)
	r := newFakeReader(t, f, Options{HSMBuffer: MinHSMBuffer, ProbeInterval: -1, MaxBufferAge: -1})
	settled(t, r) // from here, nothing but a probe would call the HSM
	calls := f.calls.Load()
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, calls, f.calls.Load())
	assert.Zero(t, r.Stats().Probes)
}

// Buffered HSM bytes never outlive MaxBufferAge, whatever the HSM does:
// down and backing off, or hung in a request. They are wiped when they
// expire, and a seeding that comes later finds none (FailClosed fails
// rather than use them).
func TestMaxBufferAgeHardLimit(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode fakeMode
	}{
		{"down", fakeDown},
		{"hung", fakeBlock},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSource(24)
			const age = 500 * time.Millisecond // long enough for the drain below on a loaded machine
			r := newFakeReader(t, f, Options{
				HSMBuffer: MinHSMBuffer, MaxBufferAge: age, Deadline: 30 * time.Millisecond,
				ProbeInterval: -1,
			})
			settled(t, r) // the drain below needs a full buffer
			f.set(tc.mode)
			// Take the buffer below half, so that the refiller is busy:
			// retrying the HSM that is down, or stuck in the hung request.
			require.NoError(t, drain(r, 25)) // the buffer still serves
			require.Positive(t, r.Stats().HSMBuffered)
			start := time.Now()
			waitFor(t, "the buffer to expire", func() bool { return r.Stats().HSMBuffered == 0 })
			waited := time.Since(start)
			st := r.Stats()
			assert.NotZero(t, st.Expired)
			assert.Less(t, waited, 10*age, "expired bytes are wiped when they expire")
			_, err := r.GetRandom(32)
			require.Error(t, err, "a seeding after the expiry must not succeed without fresh HSM bytes")
			assert.True(t, errors.Is(err, ErrUnavailable), "got %v", err)
			f.set(fakeOK)
		})
	}
}
