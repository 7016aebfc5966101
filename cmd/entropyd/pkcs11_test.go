package main

import (
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
)

// softToken creates a SoftHSM token in a temp dir, for entropyd children
// (SOFTHSM2_CONF goes into their environment, not ours).
func softToken(t *testing.T) (*softhsmtest.Dir, *softhsmtest.Token) {
	t.Helper()
	if _, _, err := softhsmtest.Lookup(); err != nil {
		softhsmtest.Unavailable(t, err)
	}
	dir, err := softhsmtest.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := dir.InitToken("entropyd-test", "", "")
	if err != nil {
		t.Fatal(err)
	}
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
	if err := os.WriteFile(pinFile, []byte(tok.PIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--pkcs11-uri", tokenURI(tok), "--pin-file", pinFile, "--feed-interval", "200ms"}
	root := mayFeed(t)
	if !root {
		args = append(args, "--no-feed")
		t.Log("not root: a dry run, the kernel is not fed (run the tests as root to cover it)")
	}
	d := startDaemon(t, []string{softhsmtest.ConfEnv + "=" + dir.Conf}, args...)
	d.waitLog(regexp.MustCompile(`msg="fed the kernel" reason=period`), 10*time.Second)
	if strings.Contains(d.stderr.String(), tok.PIN) {
		t.Error("the log shows the PIN")
	}
	_, body := d.get("/metrics")
	if v := metric(t, body, `entropyd_source_state{source="pkcs11",state="healthy"}`); v != 1 {
		t.Errorf("pkcs11 source healthy = %v, want 1", v)
	}
	if v := metric(t, body, `entropyd_source_used_bytes_total{source="pkcs11"}`); v < 2*48 {
		t.Errorf("pkcs11 bytes used = %v, want ≥ 96 (instantiation and a feed)", v)
	}
	if v := metric(t, body, `entropyd_feeds_os_only_total`); v != 0 {
		t.Errorf("%v feeds from the OS alone with a healthy token", v)
	}
	// hsmrand's own view of the token: its requests, and the token layer's
	// C_GenerateRandom calls and logins.
	if v := metric(t, body, `entropyd_hsm_requests_total{source="pkcs11"}`); v < 1 {
		t.Errorf("entropyd_hsm_requests_total = %v, want ≥ 1", v)
	}
	tl := fmt.Sprintf(`{serial=%q,source="pkcs11",token=%q}`, tok.Serial, tok.Label)
	if v := metric(t, body, `entropyd_pkcs11_generate_random_calls_total`+tl); v < 1 {
		t.Errorf("entropyd_pkcs11_generate_random_calls_total = %v, want ≥ 1", v)
	}
	if v := metric(t, body, `entropyd_pkcs11_logins_total`+tl); v < 1 {
		t.Errorf("entropyd_pkcs11_logins_total = %v, want ≥ 1 (a PIN is configured)", v)
	}
	if v := metric(t, body, `entropyd_pkcs11_token_state{serial=`+strconv.Quote(tok.Serial)+`,source="pkcs11",state="up",token=`+strconv.Quote(tok.Label)+`}`); v != 1 {
		t.Errorf("token state up = %v, want 1", v)
	}
	if root {
		if !fedRE.MatchString(d.stderr.String()) {
			t.Errorf("no start-up feed through the ioctl in the log")
		}
		if v := metric(t, body, "entropyd_kernel_fed_bytes_total"); v < 2*defaultFeedBytes {
			t.Errorf("entropyd_kernel_fed_bytes_total = %v, want ≥ %d", v, 2*defaultFeedBytes)
		}
	}
	lintMetrics(t, body)
	before := len(d.stderr.String())
	if code := d.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit status after SIGTERM = %d, want 0", code)
	}
	// A clean stop is not an outage: nothing after the signal warns.
	if tail := d.stderr.String()[before:]; strings.Contains(tail, "level=WARN") {
		t.Errorf("the stop logged a warning:\n%s", tail)
	}
}

// TestRunWrongPIN: a wrong PIN ends entropyd at once with exit status 3
// (exitLogin: the systemd unit does not restart on it) and a message naming
// the problem; the PIN is presented once.
func TestRunWrongPIN(t *testing.T) {
	dir, tok := softToken(t)
	cmd := exec.Command("entropyd", "run", "--no-feed", "--listen", "", "--pkcs11-uri", tokenURI(tok))
	cmd.Env = append(os.Environ(), softhsmtest.ConfEnv+"="+dir.Conf, pinEnv+"=wrong-"+tok.PIN)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != exitLogin {
		t.Fatalf("exit: %v, want status %d\n%s", err, exitLogin, out)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to give up: retrying?", d)
	}
	if n := strings.Count(string(out), "C_Login: CKR_PIN_INCORRECT"); n != 1 {
		t.Errorf("the output names C_Login: CKR_PIN_INCORRECT %d times, want once (one login attempt):\n%s", n, out)
	}
	if strings.Contains(string(out), "wrong-"+tok.PIN) {
		t.Errorf("the output shows the PIN:\n%s", out)
	}
	// The token still takes the right PIN: it was not locked by retries.
	cmd = exec.Command("entropyd", "check", "--no-feed", "--pkcs11-uri", tokenURI(tok))
	cmd.Env = append(os.Environ(), softhsmtest.ConfEnv+"="+dir.Conf, pinEnv+"="+tok.PIN)
	out, err = cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("check with the right PIN: %v\n%s", err, out)
	} else if !regexp.MustCompile(`(?m)^pkcs11 +healthy .* ok$`).Match(out) {
		t.Errorf("check does not report the token healthy:\n%s", out)
	} else if strings.Contains(string(out), "not delivering") {
		t.Errorf("a successful check ended with a warning that the token is not delivering:\n%s", out)
	}
	// SoftHSM sets CKF_USER_PIN_COUNT_LOW after the wrong PIN: logged.
	if !strings.Contains(string(out), "level=WARN") || !strings.Contains(string(out), "CKF_USER_PIN_COUNT_LOW") {
		t.Errorf("the low PIN count after a wrong PIN is not logged:\n%s", out)
	}
}

// TestRunPINFileBounded: --pin-file is read with a bound: /dev/zero (or a
// huge file) ends entropyd at once with exitLogin and a message that shows
// none of the bytes, instead of running out of memory.
func TestRunPINFileBounded(t *testing.T) {
	dir, tok := softToken(t)
	huge := filepath.Join(t.TempDir(), "huge")
	if err := os.WriteFile(huge, []byte(strings.Repeat("9", 1<<20)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, pinFile := range []string{"/dev/zero", huge} {
		cmd := exec.Command("entropyd", "check", "--no-feed", "--pkcs11-uri", tokenURI(tok), "--pin-file", pinFile)
		cmd.Env = append(os.Environ(), softhsmtest.ConfEnv+"="+dir.Conf)
		out, err := cmd.CombinedOutput()
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != exitLogin {
			t.Errorf("--pin-file %s: %v, want exit status %d\n%s", pinFile, err, exitLogin, out)
		}
		if !strings.Contains(string(out), "holds more than 256 bytes") || strings.Contains(string(out), "9999") || strings.Contains(string(out), "\x00") {
			t.Errorf("--pin-file %s: the message must say the file is too long and show none of it:\n%s", pinFile, out)
		}
	}
}
