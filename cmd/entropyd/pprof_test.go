package main

import (
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDebugPprof: the profiles are served under /debug/pprof/, and
// /debug/free-os-memory answers a POST, with --debug-pprof, and neither
// without it.
func TestDebugPprof(t *testing.T) {
	for _, on := range []bool{false, true} {
		args := []string{"--no-feed", "--feed-interval", "100ms"}
		if on {
			args = append(args, "--debug-pprof")
		}
		d := startDaemon(t, nil, args...)
		code, body := d.get("/debug/pprof/goroutine?debug=1")
		resp, err := http.Post(d.url+"/debug/free-os-memory", "", nil)
		require.NoError(t, err)
		resp.Body.Close()
		if on {
			assert.Equal(t, http.StatusOK, code)
			assert.True(t, strings.HasPrefix(body, "goroutine profile: total "), "goroutine profile begins %.40q", body)
			assert.Equal(t, http.StatusNoContent, resp.StatusCode)
		} else {
			assert.Equal(t, http.StatusNotFound, code, "--debug-pprof is off by default")
			assert.Equal(t, http.StatusNotFound, resp.StatusCode, "--debug-pprof is off by default")
		}
		assert.Equal(t, 0, d.stop(syscall.SIGTERM))
	}
}
