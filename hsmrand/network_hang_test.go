package hsmrand

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A network HSM that stalls; see network_test.go.

// TestNetworkHSMHang: the network HSM stalls (its server and the process
// serving this client are stopped with SIGSTOP, by PID) with a request in
// flight. The outage shows after one deadline, with no read waiting on it.
// When the server resumes, the Reader is healthy again; when it is killed
// instead and started again, the Reader recovers as from any restart.
func TestNetworkHSMHang(t *testing.T) {
	for _, resume := range []string{"continue", "restart"} {
		t.Run(resume, func(t *testing.T) {
			srv := netServer(t, "net-hang-"+resume)
			cfg := netOptions(FailClosed)
			cfg.URI = netURI(srv)
			r := openNet(t, cfg)
			// Runs before the Reader's Close, which waits for a hung call.
			t.Cleanup(func() { assert.NoError(t, srv.Stop()) })
			pids, err := srv.PIDs()
			require.NoError(t, err)
			require.GreaterOrEqual(t, len(pids), 2, "the server and the process serving this client")

			signal(t, pids, syscall.SIGSTOP)
			took := eventually(t, "the stall to show", netOutage, func() bool { return r.Stats().State == StateSourceDown })
			t.Logf("stall seen %v after SIGSTOP", took.Round(time.Millisecond))
			assert.Contains(t, r.Stats().LastError, "has not answered")
			err = bounded(t, "GetRandom during the stall", netCall, func() error {
				for range 1000 {
					if _, err := r.GetRandom(32); err != nil {
						return err
					}
				}
				return nil
			})
			require.ErrorIs(t, err, ErrUnavailable)

			switch resume {
			case "continue":
				signal(t, pids, syscall.SIGCONT)
				took = eventually(t, "the Reader to be healthy after SIGCONT", netRecover, func() bool {
					return r.Stats().State == StateHealthy
				})
				t.Logf("healthy %v after SIGCONT", took.Round(time.Millisecond))
			case "restart":
				require.NoError(t, srv.Stop()) // SIGKILL ends the stopped processes too
				startServer(t, srv, r, func() {})
				assert.GreaterOrEqual(t, r.Stats().Tokens[0].Reinitializations, uint64(1))
			}
			_, err = r.GetRandom(32)
			require.NoError(t, err)
		})
	}
}

// signal sends sig to each process in pids, which belong to a server this
// test started.
func signal(t *testing.T, pids []int, sig syscall.Signal) {
	t.Helper()
	for _, pid := range pids {
		require.NoError(t, syscall.Kill(pid, sig), "signal %v to %d", sig, pid)
	}
}
