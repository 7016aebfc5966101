package hsmrand

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Network HSM tests with more than one token or Reader; see network_test.go.

// TestNetworkHSMFailoverBlinks: a pool of two tokens on two servers. A
// goes away for good; B goes away and comes back several times. The Reader
// never fails for good (an outage, however long, is not a permanent
// failure), serves again each time B is back, and Stats show A down and B
// recovering.
func TestNetworkHSMFailoverBlinks(t *testing.T) {
	a := netServer(t, "net-pool-a")
	b := netServer(t, "net-pool-b")
	cfg := netOptions(FailClosed)
	cfg.URI = netURI(a)
	cfg.FailoverURIs = []string{netURI(b)}
	var failed atomic.Bool
	cfg.OnStateChange = func(_, to State, _ error) {
		if to == StateFailed {
			failed.Store(true)
		}
	}
	r := openNet(t, cfg)
	_, err := r.GetRandom(32)
	require.NoError(t, err)

	require.NoError(t, a.Stop())
	aDown := time.Now()
	eventually(t, "token A to be down", netOutage, func() bool { return r.Stats().Tokens[0].State == "down" })
	// B alone serves.
	_, err = r.GetRandom(32)
	require.NoError(t, err)

	const blinks = 3
	for i := range blinks {
		require.NoError(t, b.Stop())
		eventually(t, "the pool to see B's outage", netOutage, func() bool {
			st := r.Stats()
			return st.State != StateHealthy && st.Tokens[1].State == "down"
		})
		reinits := r.Stats().Tokens[1].Reinitializations
		eventually(t, "two re-initialisations of B's module while B is away", netOutage, func() bool {
			return r.Stats().Tokens[1].Reinitializations >= reinits+2
		})
		require.NoError(t, b.Start())
		took := eventually(t, "the pool to be healthy after B's return", netRecover, func() bool {
			r.GetRandom(32)
			st := r.Stats()
			return st.State == StateHealthy && st.Tokens[1].State == "up"
		})
		t.Logf("blink %d: healthy %v after B's start", i+1, took.Round(time.Millisecond))
		err := bounded(t, "GetRandom after B's return", netCall, func() error {
			_, err := r.GetRandom(32)
			return err
		})
		require.NoError(t, err, "GetRandom after B's return %d", i+1)
		require.False(t, failed.Load(), "the Reader failed for good")
	}

	st := r.Stats()
	assert.Equal(t, StateHealthy, st.State)
	assert.False(t, failed.Load())
	assert.Equal(t, "down", st.Tokens[0].State, "A stays down")
	assert.Equal(t, "up", st.Tokens[1].State)
	assert.GreaterOrEqual(t, st.Tokens[1].Recoveries, uint64(blinks))
	assert.GreaterOrEqual(t, st.Tokens[1].Reinitializations, uint64(blinks))
	assert.NotEmpty(t, st.Tokens[0].LastError)
	// A's module is re-initialised at most once per back-off (at least
	// BackoffMin/2, doubling to BackoffMax/2 with jitter), never in a loop.
	ramp := uint64(5) // 50 ms to 1 s
	maxReinits := ramp + 2*uint64(time.Since(aDown)/cfg.BackoffMax) + 1
	assert.LessOrEqual(t, st.Tokens[0].Reinitializations, maxReinits, "A's module re-initialised in a loop")
	t.Logf("A down %v: %d re-initialisations of its module", time.Since(aDown).Round(time.Millisecond), st.Tokens[0].Reinitializations)
	_, err = r.GetRandom(32)
	assert.False(t, errors.Is(err, ErrSourceFailed), "got %v", err)
	assert.NoError(t, err)
}

// TestNetworkHSMTwoReadersOneModule: two Readers in one process on one
// token share the loaded module. When the server restarts, whichever
// re-initialises the module ends the other's sessions too; the other must
// notice that its session handles are from before (they may name new
// sessions now) and find the token again, not use them.
func TestNetworkHSMTwoReadersOneModule(t *testing.T) {
	srv := netServer(t, "net-shared")
	cfg := netOptions(FailClosed)
	cfg.URI = netURI(srv)
	r1 := openNet(t, cfg)
	r2 := openNet(t, cfg)
	for _, r := range []*Reader{r1, r2} {
		_, err := r.GetRandom(32)
		require.NoError(t, err)
	}

	require.NoError(t, srv.Stop())
	eventually(t, "both Readers to see the outage", netOutage, func() bool {
		return r1.Stats().Tokens[0].State == "down" && r2.Stats().Tokens[0].State == "down"
	})
	require.NoError(t, srv.Start())
	started := time.Now()
	for i, r := range []*Reader{r1, r2} {
		eventually(t, fmt.Sprintf("Reader %d to be healthy", i+1), netRecover, func() bool {
			r.GetRandom(32)
			return r.Stats().State == StateHealthy && r.Stats().Tokens[0].State == "up"
		})
	}
	t.Logf("both healthy %v after the server's start", time.Since(started).Round(time.Millisecond))
	for i, r := range []*Reader{r1, r2} {
		for range 10 {
			_, err := r.GetRandom(32)
			require.NoError(t, err, "Reader %d after the recovery", i+1)
		}
	}
	st1, st2 := r1.Stats(), r2.Stats()
	assert.GreaterOrEqual(t, st1.Tokens[0].Reinitializations+st2.Tokens[0].Reinitializations, uint64(1))
	t.Logf("re-initialisations: %d and %d; reopens %d and %d", st1.Tokens[0].Reinitializations, st2.Tokens[0].Reinitializations,
		st1.Tokens[0].Reopens, st2.Tokens[0].Reopens)
}
