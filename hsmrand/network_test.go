package hsmrand

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/internal/p11kittest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests of this file stand a network HSM in with `p11-kit server`
// (internal/p11kittest): the Reader reaches a SoftHSM token through
// p11-kit's client module over a unix socket, and the test stops the server
// (every process of it, by PID) and starts it again. p11-kit's client never
// reconnects by itself, so the Reader comes back only through the p11
// layer's re-initialisation of the module.
//
// Each Reader loads its server's own copy of the client module
// (Server.OwnModule): the p11 layer keeps a module loaded and initialised
// for the life of the process, so a module path shared between tests would
// keep the first test's server address. The tests set environment variables
// and so do not run in parallel.

// Bounds for a loaded two-core machine: far above what the tests take,
// and below the time a hang would take.
const (
	netOutage  = 30 * time.Second // from the server's stop to the Reader's showing it
	netRecover = 30 * time.Second // from the server's start to a healthy Reader
	netCall    = 30 * time.Second // any single read
)

// netOptions: a short back-off and probe, so that the tests run in
// seconds; a small buffer whose bytes expire after a second, so that an
// outage soon leaves no HSM byte to seed from.
func netOptions(pol Policy) Config {
	return Config{
		TokenOptions: TokenOptions{BackoffMin: 50 * time.Millisecond, BackoffMax: time.Second},
		Options: Options{
			Policy:        pol,
			HSMBuffer:     MinHSMBuffer,
			ProbeInterval: 200 * time.Millisecond,
			MaxBufferAge:  time.Second,
			Deadline:      500 * time.Millisecond,
		},
	}
}

// netServer starts a p11-kit server exporting a new token and points this
// process's environment at it.
func netServer(t *testing.T, label string) *p11kittest.Server {
	t.Helper()
	srv := p11kittest.Start(t, p11kittest.Options{Label: label})
	srv.Setenv(t)
	return srv
}

// netURI names srv's token through its own client module, with its PIN.
func netURI(srv *p11kittest.Server) string {
	return fmt.Sprintf("pkcs11:serial=%s?module-path=%s&pin-value=%s", srv.Token.Serial, srv.OwnModule, srv.Token.PIN)
}

// openNet opens a Reader with cfg, closed at the end of the test.
func openNet(t *testing.T, cfg Config) *Reader {
	t.Helper()
	r, err := Open(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, r.Close()) })
	return r
}

// eventually polls cond until it holds, failing the test after within; it
// returns how long that took.
func eventually(t *testing.T, what string, within time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			require.Failf(t, "timed out", "%s: not within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// bounded runs f in a goroutine and fails the test if it has not returned
// within d: a read that blocks for good is the bug these tests look for.
func bounded[T any](t *testing.T, what string, d time.Duration, f func() T) T {
	t.Helper()
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		require.Failf(t, "blocked", "%s has not returned within %v", what, d)
		panic("unreachable")
	}
}

// stopServer stops srv and waits until r has seen the outage: its State
// leaves healthy and the token is down.
func stopServer(t *testing.T, srv *p11kittest.Server, r *Reader) {
	t.Helper()
	require.NoError(t, srv.Stop())
	took := eventually(t, "the Reader to see the outage", netOutage, func() bool {
		st := r.Stats()
		return st.State != StateHealthy && st.Tokens[0].State == "down"
	})
	t.Logf("outage seen %v after the stop", took.Round(time.Millisecond))
}

// startServer starts srv again and waits until r is healthy with its token
// up; it returns how long that took from the server's start.
func startServer(t *testing.T, srv *p11kittest.Server, r *Reader, read func()) time.Duration {
	t.Helper()
	require.NoError(t, srv.Start())
	took := eventually(t, "the Reader to be healthy after the server's return", netRecover, func() bool {
		read()
		st := r.Stats()
		return st.State == StateHealthy && st.Tokens[0].State == "up"
	})
	t.Logf("healthy %v after the server's start", took.Round(time.Millisecond))
	return took
}

// TestNetworkHSMRestart stops a network HSM under an open Reader and
// starts it again: the outage shows in the State and Stats without a read
// (the liveness probe), FailClosed's GetRandom fails with ErrUnavailable
// within its deadline, Degrade's Read goes on from the OS, and once the
// server is back the Reader re-initialises the module, logs in once and
// serves from the token again, without being reopened.
func TestNetworkHSMRestart(t *testing.T) {
	for _, pol := range []Policy{FailClosed, Degrade} {
		t.Run(pol.String(), func(t *testing.T) {
			srv := netServer(t, "net-"+pol.String())
			cfg := netOptions(pol)
			cfg.URI = netURI(srv)
			p := make([]byte, 64)
			if pol == Degrade {
				// Reads need the HSM: each is generated straight into p
				// (longer than the mixer's buffer), and each shard reseeds
				// at its first Generate after 20 ms.
				cfg.Reseed.Interval = 20 * time.Millisecond
				p = make([]byte, 32<<10)
			}
			r := openNet(t, cfg)
			_, err := r.Read(p)
			require.NoError(t, err)
			if pol == FailClosed {
				_, err = r.GetRandom(32)
				require.NoError(t, err)
			}
			before := r.Stats()
			require.Equal(t, StateHealthy, before.State)
			require.Len(t, before.Tokens, 1)
			require.Equal(t, uint64(1), before.Tokens[0].Logins)

			stopServer(t, srv, r)
			read := func() {}
			switch pol {
			case FailClosed:
				// The buffered bytes expire within MaxBufferAge; then
				// GetRandom waits out its deadline and fails.
				err := bounded(t, "GetRandom during the outage", netCall, func() error {
					for range 1000 {
						if _, err := r.GetRandom(32); err != nil {
							return err
						}
						time.Sleep(5 * time.Millisecond)
					}
					return nil
				})
				require.Error(t, err, "GetRandom kept succeeding with the HSM down")
				assert.ErrorIs(t, err, ErrUnavailable)
				assert.NotEqual(t, StateFailed, r.Stats().State, "an outage is not a permanent failure")
				read = func() { r.GetRandom(32) }
			case Degrade:
				took := eventually(t, "Reads to go on from the OS alone", netOutage, func() bool {
					_, err := r.Read(p)
					require.NoError(t, err, "Read under Degrade")
					return r.Stats().State == StateDegraded
				})
				t.Logf("degraded %v after the outage showed", took.Round(time.Millisecond))
				assert.NotZero(t, r.Stats().OSOnlySeeds)
				read = func() { r.Read(p) }
			}
			st := r.Stats()
			assert.NotZero(t, st.HSMErrors)
			assert.NotEmpty(t, st.Tokens[0].LastError)
			assert.NotZero(t, st.Tokens[0].Errors["CKR_DEVICE_ERROR"], "errors by code: %v", st.Tokens[0].Errors)

			// Let the outage span two re-initialisations: the first, made
			// while the server is away, leaves p11-kit's client with an
			// empty slot list, which only a further one ends (see
			// internal/p11kittest).
			eventually(t, "two re-initialisations while the server is away", netOutage, func() bool {
				read()
				return r.Stats().Tokens[0].Reinitializations >= 2
			})

			startServer(t, srv, r, read)
			st = r.Stats()
			assert.GreaterOrEqual(t, st.Tokens[0].Reinitializations, uint64(1), "p11-kit's client comes back only through a re-initialisation")
			assert.Equal(t, before.Tokens[0].Logins+1, st.Tokens[0].Logins, "one C_Login after the recovery")
			assert.NotZero(t, st.Tokens[0].Recoveries)

			// The token serves again: fresh HSM bytes reach the mixer.
			used := st.HSMUsed
			_, err = r.Read(p)
			require.NoError(t, err)
			if pol == FailClosed {
				_, err = r.GetRandom(32)
				require.NoError(t, err)
			}
			eventually(t, "HSM bytes used after the recovery", netRecover, func() bool {
				read()
				return r.Stats().HSMUsed > used
			})
			assert.Equal(t, StateHealthy, r.Stats().State)
		})
	}
}

// TestNetworkHSMRestartConcurrent: several goroutines call GetRandom
// without pause through the server's stop and start. None blocks for good,
// each gets ErrUnavailable (never a permanent error) while the server is
// away and output again once it is back, and the token logs in once after
// the recovery however many sessions its callers open.
func TestNetworkHSMRestartConcurrent(t *testing.T) {
	srv := netServer(t, "net-concurrent")
	cfg := netOptions(FailClosed)
	cfg.URI = netURI(srv)
	r := openNet(t, cfg)
	logins := r.Stats().Tokens[0].Logins

	const callers = 4
	var phase atomic.Int32 // 0: before the stop; 1: stopped; 2: started again
	var sawOutage, servedAfter atomic.Int32
	done := make(chan struct{}, callers)
	stop := make(chan struct{})
	for range callers {
		go func() {
			defer func() { done <- struct{}{} }()
			var failedDown, served bool
			for {
				select {
				case <-stop:
					return
				default:
				}
				p := phase.Load()
				_, err := r.GetRandom(32)
				switch {
				case err != nil && !errors.Is(err, ErrUnavailable):
					assert.ErrorIs(t, err, ErrUnavailable, "GetRandom: want success or ErrUnavailable") // not require: another goroutine
					return
				case err != nil && p == 1 && !failedDown:
					failedDown = true
					sawOutage.Add(1)
				case err == nil && p == 2 && !served:
					served = true
					servedAfter.Add(1)
				}
			}
		}()
	}
	stopServer(t, srv, r)
	phase.Store(1)
	eventually(t, "every caller to fail, and the module re-initialised while the server is away", netOutage, func() bool {
		return sawOutage.Load() == callers && r.Stats().Tokens[0].Reinitializations >= 2
	})
	phase.Store(2)
	startServer(t, srv, r, func() {})
	eventually(t, "every caller served after the recovery", netRecover, func() bool { return servedAfter.Load() == callers })
	close(stop)
	for range callers {
		bounded(t, "a GetRandom caller", netCall, func() struct{} { return <-done })
	}
	st := r.Stats()
	assert.Equal(t, StateHealthy, st.State)
	assert.Equal(t, logins+1, st.Tokens[0].Logins, "one C_Login after the recovery")
}

// TestNetworkHSMRestartInstalled: an installed FailClosed Reader makes
// crypto/rand.Read block while the network HSM is away, and return once it
// is back; it must not block for good (p11-kit's client never reconnects by
// itself).
func TestNetworkHSMRestartInstalled(t *testing.T) {
	srv := netServer(t, "net-installed")
	cfg := netOptions(FailClosed)
	cfg.URI = netURI(srv)
	cfg.PredictionResistance = true // every read takes fresh HSM bytes
	r := openNet(t, cfg)
	if fipsOnly() {
		t.Skip("Install refuses under fips140=only")
	}
	// KeyGeneration: under fips140=on, where keys would follow the Reader
	// (cryptocustomrand on by default for this module), Install asks for
	// the consent; the test is about crypto/rand.Read either way.
	restore, err := Install(r, &InstallOptions{KeyGeneration: true})
	require.NoError(t, err)
	t.Cleanup(restore)
	_, err = rand.Read(make([]byte, 32))
	require.NoError(t, err)

	stopServer(t, srv, r)
	eventually(t, "the buffered HSM bytes to expire", netOutage, func() bool { return r.Stats().HSMBuffered == 0 })
	done := make(chan error, 1)
	go func() {
		_, err := rand.Read(make([]byte, 32))
		done <- err
	}()
	eventually(t, "crypto/rand.Read to wait", netOutage, func() bool { return r.Stats().InstalledWaits > 0 })
	select {
	case err := <-done:
		require.Failf(t, "crypto/rand.Read returned", "with the HSM away and no HSM byte buffered: %v", err)
	default:
	}

	require.NoError(t, srv.Start())
	start := time.Now()
	select {
	case err := <-done:
		require.NoError(t, err)
		t.Logf("crypto/rand.Read returned %v after the server's start", time.Since(start).Round(time.Millisecond))
	case <-time.After(netRecover):
		require.Failf(t, "crypto/rand.Read still blocked", "%v after the server's start; stats %+v", netRecover, r.Stats())
	}
	assert.GreaterOrEqual(t, r.Stats().Tokens[0].Reinitializations, uint64(1))
}

// TestNetworkHSMNoReinitialize: with Config.NoReinitialize the module is
// never finalised, so p11-kit's client, which does not reconnect by itself,
// stays down after its server is back; the token's LastError says why.
func TestNetworkHSMNoReinitialize(t *testing.T) {
	srv := netServer(t, "net-noreinit")
	cfg := netOptions(FailClosed)
	cfg.URI = netURI(srv)
	cfg.NoReinitialize = true
	r := openNet(t, cfg)

	stopServer(t, srv, r)
	eventually(t, "the buffered HSM bytes to expire", netOutage, func() bool { return r.Stats().HSMBuffered == 0 })
	require.NoError(t, srv.Start())
	// Several times BackoffMax: a module that could be re-initialised
	// would be back within one.
	for deadline := time.Now().Add(5 * cfg.BackoffMax); time.Now().Before(deadline); {
		_, err := r.GetRandom(32)
		require.Error(t, err)
		st := r.Stats()
		require.NotEqual(t, StateHealthy, st.State)
		require.NotEqual(t, StateFailed, st.State, "an outage is not a permanent failure")
		require.Equal(t, "down", st.Tokens[0].State)
	}
	st := r.Stats()
	assert.Zero(t, st.Tokens[0].Reinitializations)
	assert.Contains(t, st.Tokens[0].LastError, "NoReinitialize")
	// Close does not wait on the token that is down.
	assert.NoError(t, bounded(t, "Close with the token down", netCall, r.Close))
	assert.Equal(t, "closed", r.Stats().Tokens[0].State)
}
