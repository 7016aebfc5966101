package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/internal/faultp11"
	"github.com/hsmentropy/hsmentropy/internal/softhsmtest"
	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests of this file run entropyd against a SoftHSM token through
// libfaultp11.so (internal/faultp11), which injects faults below
// miekg/pkcs11 in the entropyd process, under the control of a file the
// test rewrites.

// faultyToken creates a token and a control file, and returns the
// environment and --pkcs11-uri that make entropyd reach the token through
// the fault module. The control file starts empty. With log set, the module
// appends every call it sees to calls.log in the control file's directory.
func faultyToken(t *testing.T, pin string, log bool) (env []string, uri string, ctl *faultp11.Control, tok *softhsmtest.Token) {
	t.Helper()
	if _, _, err := softhsmtest.Lookup(); err != nil {
		softhsmtest.Unavailable(t, err)
	}
	module := faultp11.Module(t)
	dir, err := softhsmtest.NewDir(t.TempDir())
	require.NoError(t, err)
	tok, err = dir.InitToken("entropyd-faults", pin, "")
	require.NoError(t, err)
	cdir := t.TempDir()
	ctl = faultp11.New(cdir)
	require.NoError(t, ctl.Clear())
	env = []string{softhsmtest.ConfEnv + "=" + dir.Conf, faultp11.ControlEnv + "=" + ctl.Path()}
	if log {
		env = append(env, faultp11.LogEnv+"="+filepath.Join(cdir, "calls.log"))
	}
	return env, "pkcs11:token=" + tok.Label + "?module-path=" + module, ctl, tok
}

// callLog reads the fault module's call log next to ctl.
func callLog(t *testing.T, ctl *faultp11.Control) []faultp11.Call {
	t.Helper()
	calls, err := faultp11.ReadLog(filepath.Join(filepath.Dir(ctl.Path()), "calls.log"))
	require.NoError(t, err)
	return calls
}

// waitMetric polls /metrics until the series has the value.
func waitMetric(t *testing.T, d *daemonProc, series string, want func(float64) bool, timeout time.Duration) float64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_, body := d.get("/metrics")
		v, ok := metricValue(body, series)
		if ok && want(v) {
			return v
		}
		if time.Now().After(deadline) {
			require.FailNow(t, "metric not as wanted in time", "%s = %v (present %v) after %v", series, v, ok, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// metricValue finds one series in a /metrics body.
func metricValue(body, series string) (float64, bool) {
	for line := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// TestRunTokenRemovedAndBack: the token disappears under a running
// entropyd and comes back; entropyd says so in its state and metrics, goes
// on feeding, finds the token again by itself (no restart), and feeds at
// once when the source has recovered.
func TestRunTokenRemovedAndBack(t *testing.T) {
	env, uri, ctl, tok := faultyToken(t, "", false)
	pinFile := filepath.Join(t.TempDir(), "pin")
	require.NoError(t, os.WriteFile(pinFile, []byte(tok.PIN), 0o600))
	args := []string{"--pkcs11-uri", uri, "--pin-file", pinFile, "--feed-interval", "300ms", "--source-timeout", "200ms"}
	if !mayFeed(t) {
		args = append(args, "--no-feed")
	}
	d := startDaemon(t, env, args...)
	d.waitLog(regexp.MustCompile(`msg="fed the kernel" reason=start`), 10*time.Second)
	tl := `{serial="` + tok.Serial + `",source="pkcs11",state="up",token="` + tok.Label + `"}`

	require.NoError(t, ctl.Set(faultp11.Removed(2*time.Second)))
	waitMetric(t, d, `entropyd_pkcs11_token_state`+tl, func(v float64) bool { return v == 0 }, 5*time.Second)
	waitMetric(t, d, `entropyd_source_state{source="pkcs11",state="healthy"}`, func(v float64) bool { return v == 0 }, 5*time.Second)
	// Back by itself, within the removal and the back-off.
	waitMetric(t, d, `entropyd_pkcs11_token_state`+tl, func(v float64) bool { return v == 1 }, 15*time.Second)
	waitMetric(t, d, `entropyd_source_state{source="pkcs11",state="healthy"}`, func(v float64) bool { return v == 1 }, 15*time.Second)
	d.waitLog(regexp.MustCompile(`msg="fed the kernel" reason=recovery`), 5*time.Second)
	_, body := d.get("/metrics")
	v, _ := metricValue(body, `entropyd_pkcs11_token_recoveries_total{serial="`+tok.Serial+`",source="pkcs11",token="`+tok.Label+`"}`)
	assert.GreaterOrEqual(t, v, 1.0, "token recoveries")
	v, _ = metricValue(body, `entropyd_feeds_total{result="error"}`)
	assert.Zero(t, v, "failed feeds: the daemon did not go on while the token was away")
	lintMetrics(t, body)
	assert.Equal(t, 0, d.stop(syscall.SIGTERM), "exit status after SIGTERM")
}

// TestRunCorruptTokenOutput: the token answers CKR_OK with all-zero bytes;
// no such block is used (hsmrand refuses them before its health tests), the
// metrics count them as bad blocks, and the source is healthy again when
// the token is.
func TestRunCorruptTokenOutput(t *testing.T) {
	env, uri, ctl, tok := faultyToken(t, "", false)
	d := startDaemon(t, env, "--no-feed", "--pkcs11-uri", uri, "--feed-interval", "200ms", "--source-timeout", "200ms")
	d.waitLog(regexp.MustCompile(`fed the kernel`), 10*time.Second)
	require.NoError(t, ctl.Set(faultp11.Output(faultp11.OutputZero, -1)))
	tl := `{code="bad-block",serial="` + tok.Serial + `",source="pkcs11",token="` + tok.Label + `"}`
	waitMetric(t, d, `entropyd_pkcs11_errors_total`+tl, func(v float64) bool { return v >= 2 }, 10*time.Second)
	_, body := d.get("/metrics")
	for _, series := range []string{
		`entropyd_hsm_health_failures_total{kind="intermittent",source="pkcs11",test="rct"}`,
		`entropyd_hsm_health_failures_total{kind="permanent",source="pkcs11",test="rct"}`,
	} {
		v, ok := metricValue(body, series)
		assert.True(t, ok, "%s not present", series)
		assert.Zero(t, v, "%s: zero blocks reached the health tests", series)
	}
	require.NoError(t, ctl.Clear())
	waitMetric(t, d, `entropyd_hsm_state{source="pkcs11",state="healthy"}`, func(v float64) bool { return v == 1 }, 10*time.Second)
	waitMetric(t, d, `entropyd_source_state{source="pkcs11",state="healthy"}`, func(v float64) bool { return v == 1 }, 10*time.Second)
	assert.Equal(t, 0, d.stop(syscall.SIGTERM), "exit status after SIGTERM")
}

// TestRunWrongPINLogsInOnce counts, below miekg/pkcs11, the C_Login calls a
// wrong PIN gets: exactly one (retries lock real tokens), and entropyd
// exits non-zero at once.
func TestRunWrongPINLogsInOnce(t *testing.T) {
	env, uri, ctl, tok := faultyToken(t, "", true)
	cmd := exec.Command("entropyd", "run", "--no-feed", "--listen", "", "--pkcs11-uri", uri)
	cmd.Env = append(append(os.Environ(), env...), pinEnv+"=wrong-"+tok.PIN)
	out, _ := cmd.CombinedOutput()
	require.NotNil(t, cmd.ProcessState, "entropyd with a wrong PIN did not run\n%s", out)
	require.NotZero(t, cmd.ProcessState.ExitCode(), "entropyd with a wrong PIN: want a non-zero exit\n%s", out)
	calls := callLog(t, ctl)
	assert.Equal(t, 1, faultp11.Count(calls, "C_Login"), "C_Login calls with a wrong PIN; calls: %v", calls)
	assert.Contains(t, string(out), "CKR_PIN_INCORRECT", "the output should name CKR_PIN_INCORRECT")
	assert.NotContains(t, string(out), "wrong-"+tok.PIN, "the output shows the PIN")
}

// TestRunHungTokenStops: a C_GenerateRandom that never returns does not
// stop the daemon from stopping: SIGTERM ends it within 5 s, status 0.
func TestRunHungTokenStops(t *testing.T) {
	env, uri, ctl, _ := faultyToken(t, "", false)
	d := startDaemon(t, env, "--no-feed", "--pkcs11-uri", uri, "--feed-interval", "200ms", "--source-timeout", "200ms")
	d.waitLog(regexp.MustCompile(`msg="fed the kernel" reason=start`), 10*time.Second)
	require.NoError(t, ctl.Set(faultp11.Hang("C_GenerateRandom")))
	// Let the refiller run into the hang, and a few periods pass.
	waitMetric(t, d, `entropyd_hsm_state{source="pkcs11",state="healthy"}`, func(v float64) bool { return v == 0 }, 10*time.Second)
	assert.Equal(t, 0, d.stop(syscall.SIGTERM), "exit status after SIGTERM with the token hung")
	assert.Contains(t, d.stderr.String(), "did not close in time", "the log does not say the hung source was left behind")
}

// TestSecretsNeverShown runs entropyd with a known PIN, from a file and from
// the environment, text and JSON logs at debug level, a token that fails
// and recovers, and a wrong PIN; then looks for the PIN in everything
// entropyd shows: its logs, /metrics, /healthz, /readyz, check's report,
// its error messages and its command line (/proc/PID/cmdline, what ps
// shows).
func TestSecretsNeverShown(t *testing.T) {
	const pin = "Xq7-known-PIN-5521"
	env, uri, ctl, _ := faultyToken(t, pin, false)
	pinFile := filepath.Join(t.TempDir(), "pin")
	require.NoError(t, os.WriteFile(pinFile, []byte(pin+"\n"), 0o600))
	var shown []string
	look := func(what, text string) {
		t.Helper()
		shown = append(shown, what)
		assert.NotContains(t, text, pin, "%s shows the PIN", what)
		assert.NotContains(t, text, "Xq7", "%s shows the PIN", what)
	}
	for _, run := range []struct {
		name string
		env  []string
		args []string
	}{
		{"pin-file/text", nil, []string{"--pin-file", pinFile, "--log-level", "debug"}},
		{"env/json", []string{pinEnv + "=" + pin}, []string{"--log-format", "json", "--log-level", "debug"}},
	} {
		t.Run(run.name, func(t *testing.T) {
			ctl.Clear()
			args := append([]string{"--no-feed", "--pkcs11-uri", uri, "--feed-interval", "200ms", "--source-timeout", "200ms"}, run.args...)
			d := startDaemon(t, append(append([]string(nil), env...), run.env...), args...)
			d.waitLog(regexp.MustCompile(`fed the kernel`), 10*time.Second)
			cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(d.cmd.Process.Pid) + "/cmdline")
			require.NoError(t, err)
			look("/proc/PID/cmdline", strings.ReplaceAll(string(cmdline), "\x00", " "))
			// Faults make the token layer log in again and report errors.
			ctl.Set(faultp11.Fail("C_GenerateRandom", 0x30, 3), faultp11.Invalidate()) // CKR_DEVICE_ERROR
			time.Sleep(time.Second)
			ctl.Clear()
			for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
				_, body := d.get(path)
				look(path, body)
			}
			d.stop(syscall.SIGTERM)
			look("the log", d.stderr.String())
		})
	}
	// check, with the right PIN and with a wrong one; run with a wrong one.
	for _, c := range []struct {
		sub, pin string
	}{{"check", pin}, {"check", pin + "-wrong"}, {"run", pin + "-wrong"}} {
		cmd := exec.Command("entropyd", c.sub, "--no-feed", "--listen", "", "--pkcs11-uri", uri)
		cmd.Env = append(append(os.Environ(), env...), pinEnv+"="+c.pin)
		out, _ := cmd.CombinedOutput()
		look("entropyd "+c.sub+" with PIN "+strings.Replace(c.pin, pin, "(known)", 1), string(out))
	}
	t.Logf("looked for the PIN in: %s", strings.Join(shown, ", "))
}

// TestRunHSMDownReadinessAndOneClock: every call to the token fails (a
// network HSM gone). /readyz turns 503 and names the source, /healthz
// stays 200 (the process is fine), entropyd_ready is 0, and the feeds go
// on at their period from the OS alone, none waiting out --source-timeout
// for a source known to be down. When the token is back, hsmrand's
// recovery is the only clock: the recovery feed uses the token at once,
// with no back-off of entropyd's own in between.
func TestRunHSMDownReadinessAndOneClock(t *testing.T) {
	env, uri, ctl, _ := faultyToken(t, "", false)
	d := startDaemon(t, env, "--no-feed", "--pkcs11-uri", uri, "--feed-interval", "200ms", "--source-timeout", "10s")
	d.waitLog(regexp.MustCompile(`msg="fed the kernel" reason=start`), 10*time.Second)
	code, body := d.get("/readyz")
	require.Equal(t, 200, code, body)

	require.NoError(t, ctl.Set(faultp11.Fail("*", pkcs11.CKR_DEVICE_ERROR, -1)))
	waitMetric(t, d, "entropyd_ready", func(v float64) bool { return v == 0 }, 10*time.Second)
	code, body = d.get("/readyz")
	assert.Equal(t, 503, code)
	assert.Contains(t, body, "every HSM source is down")
	assert.Contains(t, body, "pkcs11 is reconnecting")
	code, _ = d.get("/healthz")
	assert.Equal(t, 200, code, "/healthz is about the process, not the HSM")

	// Each feed would wait 10 s if it waited for the down source: three
	// in 8 s show that none does.
	osOnly := regexp.MustCompile(`msg="fed the kernel" reason=period .*os_only=true`)
	start := len(osOnly.FindAllString(d.stderr.String(), -1))
	deadline := time.Now().Add(8 * time.Second)
	for len(osOnly.FindAllString(d.stderr.String(), -1)) < start+3 {
		require.False(t, time.Now().After(deadline), "fewer than 3 OS-only feeds in 8 s: feeds wait for the down source")
		time.Sleep(20 * time.Millisecond)
	}

	require.NoError(t, ctl.Clear())
	d.waitLog(regexp.MustCompile(`msg="fed the kernel" reason=recovery`), 40*time.Second)
	recovery := regexp.MustCompile(`msg="fed the kernel" reason=recovery .*os_only=(true|false)`).FindStringSubmatch(d.stderr.String())
	require.NotNil(t, recovery)
	assert.Equal(t, "false", recovery[1], "the recovery feed must use the token hsmrand has back")
	waitMetric(t, d, "entropyd_ready", func(v float64) bool { return v == 1 }, 5*time.Second)
	code, body = d.get("/readyz")
	assert.Equal(t, 200, code, body)
	assert.Equal(t, 0, d.stop(syscall.SIGTERM))
}
