package hsmrand

import (
	"sync"
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/internal/faultp11"
	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFaultGetRandomDegradeFails: through the fault module, a Degrade
// Reader whose token fails every C_GenerateRandom serves GetRandom from
// the buffer while it lasts, then fails it with an error naming the code,
// and never seeds it from the OS; Read goes on (Degrade).
func TestFaultGetRandomDegradeFails(t *testing.T) {
	r, ctl := openFaulty(t, Options{Policy: Degrade, HSMBuffer: MinHSMBuffer, Deadline: 100 * time.Millisecond})
	setFaults(t, ctl, faultp11.Fail("C_GenerateRandom", pkcs11.CKR_DEVICE_ERROR, -1))
	served, err := drainUntilError(r, MinHSMBuffer/48+10)
	require.Error(t, err, "GetRandom served %d calls with the token failing", served)
	t.Logf("%d GetRandom calls served from the buffer, then: %v", served, err)
	assert.ErrorIs(t, err, ErrUnavailable)
	assert.Contains(t, err.Error(), "CKR_DEVICE_ERROR")
	st := r.Stats()
	assert.Zero(t, st.GetRandomOSOnly)
	assert.Zero(t, st.OSOnlySeeds)
	_, err = r.Read(make([]byte, 64<<10))
	assert.NoError(t, err, "Read under Degrade")
	recoverWithin(t, r, ctl, recoveryBound)
}

// TestFaultGetRandomLive: through the fault module in front of SoftHSM, a
// live GetRandom makes its own C_GenerateRandom call (the token's call
// counter rises with every call), and fails closed, under either policy,
// when the token fails or hangs, although the buffer is full; hung calls
// pin no more OS threads than the token has sessions.
func TestFaultGetRandomLive(t *testing.T) {
	for _, pol := range []Policy{FailClosed, Degrade} {
		t.Run(pol.String(), func(t *testing.T) {
			const deadline = 200 * time.Millisecond
			r, ctl := openFaulty(t, Options{Policy: pol, LiveGetRandom: true, Deadline: deadline})
			calls := r.Stats().Tokens[0].Calls
			for i := range 20 {
				b, err := r.GetRandom(32)
				checkOutput(t, b, err, 32)
				require.GreaterOrEqual(t, r.Stats().Tokens[0].Calls, calls+uint64(i+1), "token calls after %d GetRandom", i+1)
			}
			assert.Equal(t, uint64(20), r.Stats().LiveCalls)

			setFaults(t, ctl, faultp11.Fail("C_GenerateRandom", pkcs11.CKR_DEVICE_ERROR, -1))
			start := time.Now()
			b, err := r.GetRandom(32)
			assert.Nil(t, b)
			require.ErrorIs(t, err, ErrUnavailable)
			assert.Contains(t, err.Error(), "CKR_DEVICE_ERROR")
			assert.Less(t, time.Since(start), 10*deadline+2*time.Second)
			assert.Positive(t, r.Stats().HSMBuffered, "the buffer is empty: the test shows nothing")
			setFaults(t, ctl)
			waitFor(t, "live GetRandom to serve again", func() bool {
				_, err := r.GetRandom(32)
				return err == nil
			})

			threads := osThreads(t)
			setFaults(t, ctl, faultp11.Hang("C_GenerateRandom"))
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for range 3 {
						start := time.Now()
						b, err := r.GetRandom(32)
						assert.Nil(t, b)
						assert.ErrorIs(t, err, ErrUnavailable)
						assert.Less(t, time.Since(start), 10*deadline+2*time.Second)
					}
				})
			}
			wg.Wait()
			// p11's default of 4 sessions bounds the hung calls.
			assert.LessOrEqual(t, osThreads(t), threads+4+2, "OS threads with the token hung")
			_, err = r.Read(make([]byte, 32))
			assert.NoError(t, err, "Read from the buffer")
			setFaults(t, ctl)
			waitFor(t, "live GetRandom to serve again", func() bool {
				_, err := r.GetRandom(32)
				return err == nil
			})
		})
	}
}
