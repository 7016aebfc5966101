package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/internal/softhsmtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// softToken creates a SoftHSM token in a temp dir, for entropyd children
// (SOFTHSM2_CONF goes into their environment, not ours).
func softToken(t *testing.T) (*softhsmtest.Dir, *softhsmtest.Token) {
	t.Helper()
	if _, _, err := softhsmtest.Lookup(); err != nil {
		softhsmtest.Unavailable(t, err)
	}
	dir, err := softhsmtest.NewDir(t.TempDir())
	require.NoError(t, err)
	tok, err := dir.InitToken("entropyd-test", "", "")
	require.NoError(t, err)
	return dir, tok
}

func tokenURI(tok *softhsmtest.Token) string {
	return "pkcs11:token=" + tok.Label + "?module-path=" + tok.Module
}

// TestRunSoftHSM: entropyd run against a SoftHSM token, end to end: the
// token source is healthy and read, a feed shows in the ioctl's result and
// in /metrics (which pass promlint), and SIGTERM ends it with status 0.
func TestRunSoftHSM(t *testing.T) {
	dir, tok := softToken(t)
	pinFile := filepath.Join(t.TempDir(), "pin")
	require.NoError(t, os.WriteFile(pinFile, []byte(tok.PIN+"\n"), 0o600))
	args := []string{"--pkcs11-uri", tokenURI(tok), "--pin-file", pinFile, "--feed-interval", "200ms"}
	root := mayFeed(t)
	if !root {
		args = append(args, "--no-feed")
		t.Log("not root: a dry run, the kernel is not fed (run the tests as root to cover it)")
	}
	d := startDaemon(t, []string{softhsmtest.ConfEnv + "=" + dir.Conf}, args...)
	d.waitLog(regexp.MustCompile(`msg="fed the kernel" reason=period`), 10*time.Second)
	assert.NotContains(t, d.stderr.String(), tok.PIN, "the log shows the PIN")
	_, body := d.get("/metrics")
	assert.Equal(t, 1.0, metric(t, body, `entropyd_source_state{source="pkcs11",state="healthy"}`), "pkcs11 source healthy")
	assert.GreaterOrEqual(t, metric(t, body, `entropyd_source_used_bytes_total{source="pkcs11"}`), 2*48.0, "pkcs11 bytes used (instantiation and a feed)")
	assert.Zero(t, metric(t, body, `entropyd_feeds_os_only_total`), "feeds from the OS alone with a healthy token")
	// hsmrand's own view of the token: its requests, and the token layer's
	// C_GenerateRandom calls and logins.
	assert.GreaterOrEqual(t, metric(t, body, `entropyd_hsm_requests_total{source="pkcs11"}`), 1.0, "entropyd_hsm_requests_total")
	tl := fmt.Sprintf(`{serial=%q,source="pkcs11",token=%q}`, tok.Serial, tok.Label)
	assert.GreaterOrEqual(t, metric(t, body, `entropyd_pkcs11_generate_random_calls_total`+tl), 1.0, "entropyd_pkcs11_generate_random_calls_total")
	assert.GreaterOrEqual(t, metric(t, body, `entropyd_pkcs11_logins_total`+tl), 1.0, "entropyd_pkcs11_logins_total (a PIN is configured)")
	assert.Equal(t, 1.0, metric(t, body, `entropyd_pkcs11_token_state{serial=`+strconv.Quote(tok.Serial)+`,source="pkcs11",state="up",token=`+strconv.Quote(tok.Label)+`}`), "token state up")
	if root {
		assert.Regexp(t, fedRE, d.stderr.String(), "no start-up feed through the ioctl in the log")
		assert.GreaterOrEqual(t, metric(t, body, "entropyd_kernel_fed_bytes_total"), float64(2*defaultFeedBytes), "entropyd_kernel_fed_bytes_total")
	}
	lintMetrics(t, body)
	before := len(d.stderr.String())
	assert.Equal(t, 0, d.stop(syscall.SIGTERM), "exit status after SIGTERM")
	// A clean stop is not an outage: nothing after the signal warns.
	assert.NotContains(t, d.stderr.String()[before:], "level=WARN", "the stop logged a warning")
}

// TestRunWrongPIN: a wrong PIN ends entropyd at once with exit status 3
// (exitLogin: the systemd unit does not restart on it) and a message naming
// the problem; the PIN is presented once.
func TestRunWrongPIN(t *testing.T) {
	dir, tok := softToken(t)
	// With an hour to start up, an entropyd that retried the login would
	// still be running when the minute is up and be killed (exit status
	// -1): giving up at once is what exits 3 in time, however loaded the
	// machine.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "entropyd", "run", "--no-feed", "--listen", "", "--startup-timeout", "1h", "--pkcs11-uri", tokenURI(tok))
	cmd.Env = append(os.Environ(), softhsmtest.ConfEnv+"="+dir.Conf, pinEnv+"=wrong-"+tok.PIN)
	out, err := cmd.CombinedOutput()
	require.NotNil(t, cmd.ProcessState, "exit: %v\n%s", err, out)
	require.Equal(t, exitLogin, cmd.ProcessState.ExitCode(), "exit (killed after a minute if it kept retrying): %v\n%s", err, out)
	assert.Equal(t, 1, strings.Count(string(out), "C_Login: CKR_PIN_INCORRECT"), "times the output names C_Login: CKR_PIN_INCORRECT (one login attempt):\n%s", out)
	assert.NotContains(t, string(out), "wrong-"+tok.PIN, "the output shows the PIN")
	// The token still takes the right PIN: it was not locked by retries.
	cmd = exec.Command("entropyd", "check", "--no-feed", "--pkcs11-uri", tokenURI(tok))
	cmd.Env = append(os.Environ(), softhsmtest.ConfEnv+"="+dir.Conf, pinEnv+"="+tok.PIN)
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "check with the right PIN:\n%s", out)
	assert.Regexp(t, `(?m)^pkcs11 +healthy .* ok$`, string(out), "check does not report the token healthy")
	assert.NotContains(t, string(out), "not delivering", "a successful check ended with a warning that the token is not delivering")
	// SoftHSM sets CKF_USER_PIN_COUNT_LOW after the wrong PIN: logged.
	assert.Contains(t, string(out), "level=WARN", "the low PIN count after a wrong PIN is not logged")
	assert.Contains(t, string(out), "CKF_USER_PIN_COUNT_LOW", "the low PIN count after a wrong PIN is not logged")
}

// TestRunPINFileBounded: --pin-file is read with a bound: /dev/zero (or a
// huge file) ends entropyd at once with exitLogin and a message that shows
// none of the bytes, instead of running out of memory.
func TestRunPINFileBounded(t *testing.T) {
	dir, tok := softToken(t)
	huge := filepath.Join(t.TempDir(), "huge")
	require.NoError(t, os.WriteFile(huge, []byte(strings.Repeat("9", 1<<20)), 0o600))
	for _, pinFile := range []string{"/dev/zero", huge} {
		cmd := exec.Command("entropyd", "check", "--no-feed", "--pkcs11-uri", tokenURI(tok), "--pin-file", pinFile)
		cmd.Env = append(os.Environ(), softhsmtest.ConfEnv+"="+dir.Conf)
		out, err := cmd.CombinedOutput()
		if assert.NotNil(t, cmd.ProcessState, "--pin-file %s: %v\n%s", pinFile, err, out) {
			assert.Equal(t, exitLogin, cmd.ProcessState.ExitCode(), "--pin-file %s: exit status: %v\n%s", pinFile, err, out)
		}
		assert.Contains(t, string(out), "holds more than 256 bytes", "--pin-file %s: the message must say the file is too long", pinFile)
		assert.NotContains(t, string(out), "9999", "--pin-file %s: the message shows the file", pinFile)
		assert.NotContains(t, string(out), "\x00", "--pin-file %s: the message shows the file", pinFile)
	}
}
