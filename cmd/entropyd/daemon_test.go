package main

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/health"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// lockedBuffer collects a child's stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// daemonProc is an entropyd run child process.
type daemonProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan struct{}
	err    error
	url    string // http://host:port
}

var listenRE = regexp.MustCompile(`msg"?[=:]"serving metrics"?[ ,]"?url"?[=:]"?http://([^/ "]+)/metrics`) // text or JSON

// startDaemon runs entropyd run with args, metrics on an ephemeral port.
func startDaemon(t *testing.T, env []string, args ...string) *daemonProc {
	t.Helper()
	bin, err := exec.LookPath("entropyd")
	require.NoError(t, err, "entropyd not in $PATH (TestMain puts it there)")
	d := &daemonProc{t: t, stderr: new(lockedBuffer), done: make(chan struct{})}
	d.cmd = exec.Command(bin, append([]string{"run", "--listen", "127.0.0.1:0"}, args...)...)
	d.cmd.Env = append(os.Environ(), env...)
	d.cmd.Stderr = d.stderr
	require.NoError(t, d.cmd.Start())
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.done
		if t.Failed() {
			t.Logf("entropyd stderr:\n%s", d.stderr)
		}
	})
	d.waitLog(listenRE, 10*time.Second)
	d.url = "http://" + listenRE.FindStringSubmatch(d.stderr.String())[1]
	return d
}

// waitLog waits until stderr matches re.
func (d *daemonProc) waitLog(re *regexp.Regexp, timeout time.Duration) {
	d.t.Helper()
	deadline := time.Now().Add(timeout)
	for !re.MatchString(d.stderr.String()) {
		select {
		case <-d.done:
			require.FailNow(d.t, "entropyd exited", "entropyd exited (%v) before logging %q", d.err, re)
		default:
		}
		if time.Now().After(deadline) {
			require.FailNow(d.t, "entropyd did not log in time", "entropyd did not log %q within %v", re, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// get returns the body of a GET.
func (d *daemonProc) get(path string) (int, string) {
	d.t.Helper()
	resp, err := http.Get(d.url + path)
	require.NoError(d.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(d.t, err)
	return resp.StatusCode, string(b)
}

// metric returns the value of the series line starting with series.
func metric(t *testing.T, body, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err)
			return f
		}
	}
	require.FailNow(t, "no series "+series+" in the metrics")
	return 0
}

// stop sends sig and returns the exit status, failing after 5 s.
func (d *daemonProc) stop(sig os.Signal) int {
	d.t.Helper()
	start := time.Now()
	require.NoError(d.t, d.cmd.Process.Signal(sig))
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		// No stop takes more than moments: this bound only catches a hang
		// (a blocked open(2) or read), generously for a loaded machine.
		require.FailNow(d.t, "entropyd did not stop", "entropyd still running 15 s after %v", sig)
	}
	d.t.Logf("stopped by %v in %v", sig, time.Since(start).Round(time.Millisecond))
	return d.cmd.ProcessState.ExitCode()
}

// randomFile writes n random bytes to a temp file.
func randomFile(t *testing.T, n int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "random.bin")
	b := make([]byte, n)
	rand.Read(b)
	require.NoError(t, os.WriteFile(p, b, 0o600))
	return p
}

// stuckFIFO makes a FIFO and writes zeros to it until the reader leaves.
func stuckFIFO(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "stuck.fifo")
	require.NoError(t, unix.Mkfifo(p, 0o600))
	go func() {
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		zeros := make([]byte, 4096)
		for {
			if _, err := f.Write(zeros); err != nil {
				return
			}
		}
	}()
	return p
}

// TestRunStuckFIFO: a source that goes stuck fails its health tests and is
// taken out; the daemon says so and goes on feeding from the others.
func TestRunStuckFIFO(t *testing.T) {
	fifo := stuckFIFO(t)
	d := startDaemon(t, nil, "--no-feed", "--feed-interval", "100ms", "--restore-after", "0",
		"--file", fifo+","+randomFile(t, 1<<16))
	d.waitLog(regexp.MustCompile(`level=ERROR msg="source taken out of service; going on with the others" source=file:\S+stuck.fifo err="health: repetition count test: permanent failure`), 10*time.Second)
	d.waitLog(regexp.MustCompile(`msg="fed the kernel" reason=period`), 5*time.Second)

	_, body := d.get("/metrics")
	src := `source="file:` + fifo + `"`
	assert.Equal(t, 1.0, metric(t, body, `entropyd_source_state{`+src+`,state="failed"}`), "stuck source state failed")
	assert.GreaterOrEqual(t, metric(t, body, `entropyd_source_health_failures_total{kind="permanent",`+src+`,test="rct"}`), 1.0, "stuck source permanent RCT failures")
	feeds := metric(t, body, `entropyd_feeds_total{result="ok"}`)
	time.Sleep(300 * time.Millisecond)
	_, body = d.get("/metrics")
	assert.Greater(t, metric(t, body, `entropyd_feeds_total{result="ok"}`), feeds, "feeds stopped after the stuck source failed")
	code, _ := d.get("/healthz")
	assert.Equal(t, http.StatusOK, code, "/healthz")
	code, _ = d.get("/readyz")
	assert.Equal(t, http.StatusOK, code, "/readyz")
	assert.Equal(t, 0, d.stop(syscall.SIGTERM), "exit status after SIGTERM")
}

// TestRunAllFailed: when every source has failed, entropyd exits non-zero
// (rngd exits 0 there).
func TestRunAllFailed(t *testing.T) {
	bin, err := exec.LookPath("entropyd")
	require.NoError(t, err)
	cmd := exec.Command(bin, "run", "--no-feed", "--listen", "", "--os=false", "--file", stuckFIFO(t))
	out, err := cmd.CombinedOutput()
	require.NotNil(t, cmd.ProcessState, "exit: %v; output:\n%s", err, out)
	require.Equal(t, 1, cmd.ProcessState.ExitCode(), "exit: %v; output:\n%s", err, out)
	assert.Contains(t, string(out), "entropyd: every source has failed", "output does not say every source failed")
}

// mayFeed reports whether the tests may feed the kernel (they run as root);
// when HSMENTROPY_REQUIRE_KERNELFEED=1 (CI) not being root is a failure.
func mayFeed(t *testing.T) bool {
	t.Helper()
	if os.Geteuid() == 0 {
		return true
	}
	require.NotEqual(t, "1", os.Getenv("HSMENTROPY_REQUIRE_KERNELFEED"), "feeding the kernel needs root (CAP_SYS_ADMIN), and HSMENTROPY_REQUIRE_KERNELFEED=1 requires it")
	return false
}

// needRoot skips a test that feeds the kernel unless it may.
func needRoot(t *testing.T) {
	t.Helper()
	if !mayFeed(t) {
		t.Skip("feeding the kernel needs root (CAP_SYS_ADMIN); run the tests as root to cover it")
	}
}

var fedRE = regexp.MustCompile(`msg="fed the kernel" reason=start bytes=(\d+) credited_bits=\d+ kernel_ready=\w+ reseeded=\w+ os_only=false dry_run=false`)

// TestRunFeedsKernel: a feed shows in the ioctl's result and in /metrics,
// which pass promlint (the checks of promtool check metrics); SIGTERM → 0.
func TestRunFeedsKernel(t *testing.T) {
	needRoot(t)
	d := startDaemon(t, nil, "--feed-interval", "1h", "--file", randomFile(t, 1<<16))
	d.waitLog(fedRE, 10*time.Second)
	assert.Equal(t, strconv.Itoa(defaultFeedBytes), fedRE.FindStringSubmatch(d.stderr.String())[1], "bytes the ioctl fed")
	_, body := d.get("/metrics")
	assert.Equal(t, float64(defaultFeedBytes), metric(t, body, "entropyd_kernel_fed_bytes_total"), "entropyd_kernel_fed_bytes_total")
	assert.Equal(t, 1.0, metric(t, body, "entropyd_kernel_rng_ready"), "entropyd_kernel_rng_ready, on a booted machine")
	lintMetrics(t, body)
	assert.Equal(t, 0, d.stop(syscall.SIGINT), "exit status after SIGINT")
}

// requirePromtoolEnv, set to 1 (by CI), makes a missing promtool a failure.
const requirePromtoolEnv = "HSMENTROPY_REQUIRE_PROMTOOL"

// lintMetrics runs promlint on a scrape, and promtool check metrics (from
// Debian's prometheus package) when it is in $PATH.
func lintMetrics(t *testing.T, body string) {
	t.Helper()
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	require.NoError(t, err)
	assert.Empty(t, problems, "promlint problems")
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		require.NotEqual(t, "1", os.Getenv(requirePromtoolEnv), "promtool not in $PATH and %s=1: install Debian's prometheus package", requirePromtoolEnv)
		t.Log("promtool not in $PATH: checked with promlint only (install Debian's prometheus package for promtool)")
		return
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	assert.NoError(t, err, "promtool check metrics:\n%s", out)
}

// TestRunOnce: --once feeds once and exits 0.
func TestRunOnce(t *testing.T) {
	needRoot(t)
	cmd := exec.Command("entropyd", "run", "--once", "--listen", "", "--file", randomFile(t, 1<<14))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "entropyd run --once:\n%s", out)
	assert.Len(t, fedRE.FindAll(out, -1), 1, "feeds:\n%s", out)
}

// TestRunNotifyAndReload: READY=1 reaches $NOTIFY_SOCKET after the first
// feed; SIGHUP reloads (RELOADING=1, READY=1 again); SIGTERM says STOPPING=1.
func TestRunNotifyAndReload(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	require.NoError(t, err)
	defer unix.Close(fd)
	require.NoError(t, unix.Bind(fd, &unix.SockaddrUnix{Name: sock}))
	tv := unix.NsecToTimeval(int64(10 * time.Second))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	recv := func() string {
		b := make([]byte, 512)
		n, _, err := unix.Recvfrom(fd, b, 0)
		require.NoError(t, err, "no notification")
		return string(b[:n])
	}
	d := startDaemon(t, []string{"NOTIFY_SOCKET=" + sock}, "--no-feed", "--feed-interval", "1h")
	got := recv()
	require.True(t, strings.HasPrefix(got, "READY=1"), "first notification %q, want READY=1", got)
	d.cmd.Process.Signal(syscall.SIGHUP)
	for _, want := range []string{"RELOADING=1", "READY=1"} {
		got := recv()
		require.True(t, strings.HasPrefix(got, want), "notification %q, want %s", got, want)
	}
	d.waitLog(regexp.MustCompile(`msg="configuration reloaded"`), 5*time.Second)
	d.cmd.Process.Signal(syscall.SIGTERM)
	assert.Equal(t, "STOPPING=1", recv(), "notification")
	<-d.done
	assert.Equal(t, 0, d.cmd.ProcessState.ExitCode(), "exit status")
}

// writeFIFO opens the FIFO for writing and writes random bytes to it, limit
// of them or (with 0) until the returned function closes it; the reader then
// sees EOF.
func writeFIFO(t *testing.T, path string, limit int) (closeWriter func()) {
	t.Helper()
	opened := make(chan *os.File, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			close(opened)
			return
		}
		opened <- f
		buf := make([]byte, 512)
		for written := 0; limit == 0 || written < limit; {
			b := buf
			if limit > 0 {
				b = buf[:min(len(buf), limit-written)]
			}
			rand.Read(b)
			n, err := f.Write(b)
			written += n
			if err != nil {
				return
			}
		}
		f.Close()
	}()
	return func() {
		if f, ok := <-opened; ok {
			f.Close() // a FIFO is pollable: this ends a blocked Write
		}
	}
}

// TestRunRecoveryFeed: a FIFO whose writer goes away is reconnecting; when a
// writer comes back it passes a new start-up test and the kernel is fed at
// once, not at the next period.
func TestRunRecoveryFeed(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "src.fifo")
	require.NoError(t, unix.Mkfifo(fifo, 0o600))
	// The start-up test and a bit more: the worker reads to the end (its
	// buffer does not fill up) and sees the writer go.
	const firstWriter = health.StartUpSamples + 512
	writeFIFO(t, fifo, firstWriter)
	d := startDaemon(t, nil, "--no-feed", "--feed-interval", "1h", "--file", fifo, "--file-chunk", "64", "--startup-timeout", "1m")
	d.waitLog(regexp.MustCompile(`msg="fed the kernel" reason=start .* sources=file:\S+,os`), 10*time.Second)
	d.waitLog(regexp.MustCompile(`level=WARN msg="source state changed" source=file:\S+ from=healthy to=reconnecting`), 10*time.Second)
	t.Cleanup(writeFIFO(t, fifo, 0))
	d.waitLog(regexp.MustCompile(`msg="fed the kernel" reason=recovery .* sources=file:\S+,os`), 10*time.Second)
	_, body := d.get("/metrics")
	assert.GreaterOrEqual(t, metric(t, body, `entropyd_source_errors_total{code="EOF",source="file:`+fifo+`"}`), 1.0, "EOF errors of the FIFO")
	assert.Equal(t, 0, d.stop(syscall.SIGTERM), "exit status after SIGTERM")
}

// TestRunStopWhileWaitingForWriter: SIGTERM ends entropyd promptly even while
// it waits, in open(2), for a FIFO's writer.
func TestRunStopWhileWaitingForWriter(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "idle.fifo")
	require.NoError(t, unix.Mkfifo(fifo, 0o600))
	d := startDaemon(t, nil, "--no-feed", "--startup-timeout", "100ms", "--file", fifo)
	d.waitLog(regexp.MustCompile(`msg="fed the kernel" reason=start`), 10*time.Second)
	// stop fails the test if entropyd hangs in the pending open(2).
	assert.Equal(t, 0, d.stop(syscall.SIGTERM), "exit status after SIGTERM")
}

// TestRunReloadKeepsOldOnError: SIGHUP with a broken configuration file logs
// the error naming it and keeps running on the old configuration; a fixed
// file is then taken.
func TestRunReloadKeepsOldOnError(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "entropyd.conf")
	require.NoError(t, os.WriteFile(conf, []byte("feed-interval = 1h\n"), 0o600))
	d := startDaemon(t, nil, "--no-feed", "--config", conf)
	d.waitLog(regexp.MustCompile(`msg="fed the kernel" reason=start`), 10*time.Second)
	require.NoError(t, os.WriteFile(conf, []byte("feed-interval = often\n"), 0o600))
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitLog(regexp.MustCompile(`level=ERROR msg="SIGHUP: configuration not reloaded, keeping the old one" err=".*entropyd.conf:1: invalid value \\"often\\" for feed-interval`), 5*time.Second)
	code, _ := d.get("/healthz")
	assert.Equal(t, http.StatusOK, code, "/healthz after a failed reload")
	require.NoError(t, os.WriteFile(conf, []byte("feed-interval = 100ms\n"), 0o600))
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitLog(regexp.MustCompile(`msg="fed the kernel" reason=period`), 10*time.Second)
	assert.Equal(t, 0, d.stop(syscall.SIGTERM), "exit status after SIGTERM")
}

// TestCheckHwrng: check reads the hardware RNG through its start-up tests.
func TestCheckHwrng(t *testing.T) {
	f, err := os.Open("/dev/hwrng")
	if err != nil {
		t.Skipf("no readable /dev/hwrng here: %v", err)
	}
	if _, err := f.Read(make([]byte, 1)); err != nil {
		f.Close()
		t.Skipf("/dev/hwrng does not answer here: %v", err)
	}
	f.Close()
	out, err := exec.Command("entropyd", "check", "--no-feed", "--hwrng", "--hwrng-rate", "0").CombinedOutput()
	require.NoError(t, err, "check --hwrng:\n%s", out)
	assert.Regexp(t, `(?m)^hwrng +healthy +\d+ .* ok$`, string(out), "check does not report hwrng healthy")
}
