package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/internal/p11kittest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunNetworkHSMRestart runs entropyd against a network HSM stood in by
// `p11-kit server` (internal/p11kittest), stops the server (every process
// of it, by PID) and starts it again. While it is away /readyz answers 503
// and the metrics say the source is not healthy; once it is back, the same
// entropyd process (p11-kit's client never reconnects by itself, so through
// a re-initialisation of the module) feeds from the token again at once
// (a recovery feed that is not OS-only) and is ready again.
func TestRunNetworkHSMRestart(t *testing.T) {
	srv := p11kittest.Start(t, p11kittest.Options{Label: "entropyd-net"})
	pinFile := filepath.Join(t.TempDir(), "pin")
	require.NoError(t, os.WriteFile(pinFile, []byte(srv.Token.PIN+"\n"), 0o600))
	uri := fmt.Sprintf("pkcs11:serial=%s?module-path=%s", srv.Token.Serial, srv.ClientModule)
	args := []string{"--pkcs11-uri", uri, "--pin-file", pinFile, "--feed-interval", "200ms", "--source-timeout", "2s"}
	if !mayFeed(t) {
		args = append(args, "--no-feed")
	}
	d := startDaemon(t, srv.Env(), args...)
	d.waitLog(regexp.MustCompile(`msg="fed the kernel" reason=start .*os_only=false`), 30*time.Second)
	waitMetric(t, d, "entropyd_ready", func(v float64) bool { return v == 1 }, 30*time.Second)
	const healthy = `entropyd_source_state{source="pkcs11",state="healthy"}`
	// tokenSeries names a series of the token's, with one more label
	// (sorted before or after the token's) if any.
	tokenSeries := func(name, before, after string) string {
		return fmt.Sprintf(`%s{%sserial=%q,source="pkcs11",%stoken=%q}`, name, before, srv.Token.Serial, after, srv.Token.Label)
	}
	reinits := tokenSeries("entropyd_pkcs11_module_reinitializations_total", "", "")
	tokenState := func(state string) string {
		return tokenSeries("entropyd_pkcs11_token_state", "", `state="`+state+`",`)
	}
	_, body := d.get("/metrics")
	v, ok := metricValue(body, reinits)
	require.True(t, ok, "no series %s", reinits)
	require.Zero(t, v)

	require.NoError(t, srv.Stop())
	stopped := time.Now()
	waitMetric(t, d, "entropyd_ready", func(v float64) bool { return v == 0 }, 30*time.Second)
	waitMetric(t, d, healthy, func(v float64) bool { return v == 0 }, 30*time.Second)
	t.Logf("not ready %v after the stop", time.Since(stopped).Round(time.Millisecond))
	waitMetric(t, d, tokenState("down"), func(v float64) bool { return v == 1 }, 30*time.Second)
	code, body := d.get("/readyz")
	assert.Equal(t, 503, code)
	assert.Contains(t, body, "every HSM source is down")
	code, _ = d.get("/healthz")
	assert.Equal(t, 200, code, "/healthz is about the process, not the HSM")
	// The outage spans two re-initialisations: the first, made while the
	// server is away, leaves p11-kit's client with an empty slot list,
	// which only a further one ends (see internal/p11kittest).
	waitMetric(t, d, reinits, func(v float64) bool { return v >= 2 }, 30*time.Second)
	recovery := regexp.MustCompile(`msg="fed the kernel" reason=recovery .*os_only=(true|false)`)
	before := len(recovery.FindAllString(d.stderr.String(), -1))

	require.NoError(t, srv.Start())
	started := time.Now()
	waitMetric(t, d, "entropyd_ready", func(v float64) bool { return v == 1 }, 40*time.Second)
	t.Logf("ready %v after the server's start", time.Since(started).Round(time.Millisecond))
	code, body = d.get("/readyz")
	assert.Equal(t, 200, code, body)
	var feeds [][]string
	for deadline := time.Now().Add(10 * time.Second); len(feeds) <= before; time.Sleep(20 * time.Millisecond) {
		require.False(t, time.Now().After(deadline), "no recovery feed within 10 s of readiness")
		feeds = recovery.FindAllStringSubmatch(d.stderr.String(), -1)
	}
	assert.Equal(t, "false", feeds[before][1], "the first recovery feed after the return must use the token")
	_, body = d.get("/metrics")
	assert.Equal(t, 1.0, metric(t, body, healthy))
	assert.GreaterOrEqual(t, metric(t, body, reinits), 2.0)
	assert.Equal(t, 1.0, metric(t, body, tokenState("up")))
	assert.GreaterOrEqual(t, metric(t, body, tokenSeries("entropyd_pkcs11_token_recoveries_total", "", "")), 1.0)
	assert.GreaterOrEqual(t, metric(t, body, tokenSeries("entropyd_pkcs11_errors_total", `code="CKR_DEVICE_ERROR",`, "")), 1.0)

	select {
	case <-d.done:
		require.FailNow(t, "entropyd exited", "%v", d.err)
	default: // the one process started above recovered
	}
	assert.Equal(t, 0, d.stop(syscall.SIGTERM))
}
