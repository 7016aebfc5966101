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
	if err != nil {
		t.Fatalf("entropyd not in $PATH (TestMain puts it there): %v", err)
	}
	d := &daemonProc{t: t, stderr: new(lockedBuffer), done: make(chan struct{})}
	d.cmd = exec.Command(bin, append([]string{"run", "--listen", "127.0.0.1:0"}, args...)...)
	d.cmd.Env = append(os.Environ(), env...)
	d.cmd.Stderr = d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
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
			d.t.Fatalf("entropyd exited (%v) before logging %q", d.err, re)
		default:
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("entropyd did not log %q within %v", re, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// get returns the body of a GET.
func (d *daemonProc) get(path string) (int, string) {
	d.t.Helper()
	resp, err := http.Get(d.url + path)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// metric returns the value of the series line starting with series.
func metric(t *testing.T, body, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no series %s in the metrics", series)
	return 0
}

// stop sends sig and returns the exit status, failing after 5 s.
func (d *daemonProc) stop(sig os.Signal) int {
	d.t.Helper()
	start := time.Now()
	if err := d.cmd.Process.Signal(sig); err != nil {
		d.t.Fatal(err)
	}
	select {
	case <-d.done:
	case <-time.After(5 * time.Second):
		d.t.Fatalf("entropyd still running 5 s after %v", sig)
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
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// stuckFIFO makes a FIFO and writes zeros to it until the reader leaves.
func stuckFIFO(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "stuck.fifo")
	if err := unix.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
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
	if v := metric(t, body, `entropyd_source_state{`+src+`,state="failed"}`); v != 1 {
		t.Errorf("stuck source state failed = %v, want 1", v)
	}
	if v := metric(t, body, `entropyd_source_health_failures_total{kind="permanent",`+src+`,test="rct"}`); v < 1 {
		t.Errorf("stuck source permanent RCT failures = %v, want ≥ 1", v)
	}
	feeds := metric(t, body, `entropyd_feeds_total{result="ok"}`)
	time.Sleep(300 * time.Millisecond)
	_, body = d.get("/metrics")
	if after := metric(t, body, `entropyd_feeds_total{result="ok"}`); after <= feeds {
		t.Errorf("feeds stopped after the stuck source failed: %v then %v", feeds, after)
	}
	if code, _ := d.get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d, want 200", code)
	}
	if code, _ := d.get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d, want 200", code)
	}
	if code := d.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit status after SIGTERM = %d, want 0", code)
	}
}

// TestRunAllFailed: when every source has failed, entropyd exits non-zero
// (rngd exits 0 there).
func TestRunAllFailed(t *testing.T) {
	bin, err := exec.LookPath("entropyd")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--no-feed", "--listen", "", "--os=false", "--file", stuckFIFO(t))
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1; output:\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("entropyd: every source has failed")) {
		t.Errorf("output does not say every source failed:\n%s", out)
	}
}

// mayFeed reports whether the tests may feed the kernel (they run as root);
// when HSMENTROPY_REQUIRE_KERNELFEED=1 (CI) not being root is a failure.
func mayFeed(t *testing.T) bool {
	t.Helper()
	if os.Geteuid() == 0 {
		return true
	}
	if os.Getenv("HSMENTROPY_REQUIRE_KERNELFEED") == "1" {
		t.Fatal("feeding the kernel needs root (CAP_SYS_ADMIN), and HSMENTROPY_REQUIRE_KERNELFEED=1 requires it")
	}
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
	if got := fedRE.FindStringSubmatch(d.stderr.String())[1]; got != strconv.Itoa(defaultFeedBytes) {
		t.Errorf("the ioctl fed %s bytes, want %d", got, defaultFeedBytes)
	}
	_, body := d.get("/metrics")
	if v := metric(t, body, "entropyd_kernel_fed_bytes_total"); v != defaultFeedBytes {
		t.Errorf("entropyd_kernel_fed_bytes_total = %v, want %d", v, defaultFeedBytes)
	}
	if v := metric(t, body, "entropyd_kernel_rng_ready"); v != 1 {
		t.Errorf("entropyd_kernel_rng_ready = %v, want 1 on a booted machine", v)
	}
	lintMetrics(t, body)
	if code := d.stop(syscall.SIGINT); code != 0 {
		t.Errorf("exit status after SIGINT = %d, want 0", code)
	}
}

// requirePromtoolEnv, set to 1 (by CI), makes a missing promtool a failure.
const requirePromtoolEnv = "HSMENTROPY_REQUIRE_PROMTOOL"

// lintMetrics runs promlint on a scrape, and promtool check metrics (from
// Debian's prometheus package) when it is in $PATH.
func lintMetrics(t *testing.T, body string) {
	t.Helper()
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv(requirePromtoolEnv) == "1" {
			t.Fatalf("promtool not in $PATH and %s=1: install Debian's prometheus package", requirePromtoolEnv)
		}
		t.Log("promtool not in $PATH: checked with promlint only (install Debian's prometheus package for promtool)")
		return
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestRunOnce: --once feeds once and exits 0.
func TestRunOnce(t *testing.T) {
	needRoot(t)
	cmd := exec.Command("entropyd", "run", "--once", "--listen", "", "--file", randomFile(t, 1<<14))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("entropyd run --once: %v\n%s", err, out)
	}
	if n := len(fedRE.FindAll(out, -1)); n != 1 {
		t.Errorf("fed %d times, want 1:\n%s", n, out)
	}
}

// TestRunNotifyAndReload: READY=1 reaches $NOTIFY_SOCKET after the first
// feed; SIGHUP reloads (RELOADING=1, READY=1 again); SIGTERM says STOPPING=1.
func TestRunNotifyAndReload(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: sock}); err != nil {
		t.Fatal(err)
	}
	tv := unix.NsecToTimeval(int64(10 * time.Second))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	recv := func() string {
		b := make([]byte, 512)
		n, _, err := unix.Recvfrom(fd, b, 0)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		return string(b[:n])
	}
	d := startDaemon(t, []string{"NOTIFY_SOCKET=" + sock}, "--no-feed", "--feed-interval", "1h")
	if got := recv(); !strings.HasPrefix(got, "READY=1") {
		t.Fatalf("first notification %q, want READY=1", got)
	}
	d.cmd.Process.Signal(syscall.SIGHUP)
	for _, want := range []string{"RELOADING=1", "READY=1"} {
		if got := recv(); !strings.HasPrefix(got, want) {
			t.Fatalf("notification %q, want %s", got, want)
		}
	}
	d.waitLog(regexp.MustCompile(`msg="configuration reloaded"`), 5*time.Second)
	d.cmd.Process.Signal(syscall.SIGTERM)
	if got := recv(); got != "STOPPING=1" {
		t.Errorf("notification %q, want STOPPING=1", got)
	}
	<-d.done
	if code := d.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
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
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
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
	if v := metric(t, body, `entropyd_source_errors_total{code="EOF",source="file:`+fifo+`"}`); v < 1 {
		t.Errorf("EOF errors of the FIFO = %v, want ≥ 1", v)
	}
	if code := d.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit status after SIGTERM = %d, want 0", code)
	}
}

// TestRunStopWhileWaitingForWriter: SIGTERM ends entropyd promptly even while
// it waits, in open(2), for a FIFO's writer.
func TestRunStopWhileWaitingForWriter(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "idle.fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, nil, "--no-feed", "--startup-timeout", "100ms", "--file", fifo)
	d.waitLog(regexp.MustCompile(`msg="fed the kernel" reason=start`), 10*time.Second)
	start := time.Now()
	if code := d.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit status after SIGTERM = %d, want 0", code)
	}
	if el := time.Since(start); el > 2500*time.Millisecond {
		t.Errorf("stopping took %v while a FIFO open was pending", el)
	}
}

// TestRunReloadKeepsOldOnError: SIGHUP with a broken configuration file logs
// the error naming it and keeps running on the old configuration; a fixed
// file is then taken.
func TestRunReloadKeepsOldOnError(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "entropyd.conf")
	if err := os.WriteFile(conf, []byte("feed-interval = 1h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, nil, "--no-feed", "--config", conf)
	d.waitLog(regexp.MustCompile(`msg="fed the kernel" reason=start`), 10*time.Second)
	if err := os.WriteFile(conf, []byte("feed-interval = often\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitLog(regexp.MustCompile(`level=ERROR msg="SIGHUP: configuration not reloaded, keeping the old one" err=".*entropyd.conf:1: invalid value \\"often\\" for feed-interval`), 5*time.Second)
	if code, _ := d.get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d after a failed reload, want 200", code)
	}
	if err := os.WriteFile(conf, []byte("feed-interval = 100ms\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitLog(regexp.MustCompile(`msg="fed the kernel" reason=period`), 10*time.Second)
	if code := d.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit status after SIGTERM = %d, want 0", code)
	}
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
	if err != nil {
		t.Fatalf("check --hwrng: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^hwrng +healthy +\d+ .* ok$`).Match(out) {
		t.Errorf("check does not report hwrng healthy:\n%s", out)
	}
}
