package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/health"
	"github.com/hsmentropy/hsmentropy/hsmrand"
	"github.com/hsmentropy/hsmentropy/kernelfeed"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fullSnapshot is a snapshot in which every metric has a value.
func fullSnapshot() snapshot {
	now := time.Unix(1800000000, 0)
	var c counters
	c.observe(64, 50*time.Microsecond)
	c.observe(64, 2*time.Second)
	c.used.Add(48)
	c.fail(syscall.EIO)
	return snapshot{
		Sources: []sourceSnapshot{{
			Name: "hwrng", State: stateHealthy, Counters: c.snapshot(),
			Health: health.Stats{State: health.Operational, Samples: 128, StartUps: 1,
				RCT: health.Counts{Intermittent: 1, Max: 3, Cutoff: 9, PermanentCutoff: 17},
				APT: health.Counts{Max: 6, Cutoff: 26, PermanentCutoff: 41}},
		}, {
			Name: "pkcs11", State: stateHealthy, Counters: c.snapshot(),
			HSM: &hsmrand.Stats{State: hsmrand.StateHealthy, HSMCalls: 3, HSMBytes: 3 << 16, HSMErrors: 1,
				HSMLatency: 60 * time.Microsecond, HSMBuffered: 4096, Quarantined: 1024, Probes: 7, Expired: 2048,
				Health: health.Stats{RCT: health.Counts{Intermittent: 1}},
				Tokens: []hsmrand.TokenStats{{Label: "vault", Serial: "a359c86d25489d00", State: "up", Calls: 4, Bytes: 4 << 16,
					Latency: 80 * time.Microsecond, Logins: 1, Reopens: 1, Reinitializations: 1, MaxRequest: 4096,
					Errors: map[string]uint64{"CKR_SESSION_CLOSED": 1, "CKR_DATA_LEN_RANGE": 4}}}},
		}},
		Kernel:      kernelfeed.Stats{Feeds: 1, Bytes: 64, CreditedBits: 384, Reseeds: 1},
		KernelFed:   true,
		KernelReady: true, KernelReadyKnown: true,
		FeedsOK:  1,
		LastFeed: now.Add(-time.Second),
		MixerOK:  true,
		Ready:    true,
		Now:      now,
	}
}

func gatherer(t *testing.T, s snapshot) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(newCollector(func() snapshot { return s })); err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestMetricsGolden pins the names, types and help texts of the metrics:
// dashboards and alerts depend on them. Run with -update after a deliberate
// change.
func TestMetricsGolden(t *testing.T) {
	mfs, err := gatherer(t, fullSnapshot()).Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		b.WriteString("# HELP " + mf.GetName() + " " + mf.GetHelp() + "\n")
		b.WriteString("# TYPE " + mf.GetName() + " " + strings.ToLower(mf.GetType().String()) + "\n")
	}
	golden := filepath.Join("testdata", "metrics.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("metrics differ from %s (run go test -update after a deliberate change):\n got:\n%s\nwant:\n%s", golden, got, want)
	}
}

// TestMetricsLint runs promlint, the checks of promtool check metrics.
func TestMetricsLint(t *testing.T) {
	problems, err := testutil.GatherAndLint(gatherer(t, fullSnapshot()))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// TestMetricsValues checks a few values built from the snapshot.
func TestMetricsValues(t *testing.T) {
	s := fullSnapshot()
	s.Sources = s.Sources[:1] // hwrng; TestMetricsHSM has the token
	reg := gatherer(t, s)
	want := `
# HELP entropyd_kernel_entropy_credited_total Entropy credited to the kernel, in bits; credit is given only while the kernel RNG is not ready.
# TYPE entropyd_kernel_entropy_credited_total counter
entropyd_kernel_entropy_credited_total 384
# HELP entropyd_last_feed_age_seconds Seconds since the last successful feed (since the start before the first).
# TYPE entropyd_last_feed_age_seconds gauge
entropyd_last_feed_age_seconds 1
# HELP entropyd_source_errors_total Failed opens and reads of the source, by errno, PKCS#11 return value (CKR_...) or EOF.
# TYPE entropyd_source_errors_total counter
entropyd_source_errors_total{code="EIO",source="hwrng"} 1
# HELP entropyd_source_health_failures_total SP 800-90B health test failures of the source, by test (rct, apt) and kind (intermittent, permanent).
# TYPE entropyd_source_health_failures_total counter
entropyd_source_health_failures_total{kind="intermittent",source="hwrng",test="apt"} 0
entropyd_source_health_failures_total{kind="intermittent",source="hwrng",test="rct"} 1
entropyd_source_health_failures_total{kind="permanent",source="hwrng",test="apt"} 0
entropyd_source_health_failures_total{kind="permanent",source="hwrng",test="rct"} 0
`
	names := []string{"entropyd_kernel_entropy_credited_total", "entropyd_last_feed_age_seconds", "entropyd_source_errors_total", "entropyd_source_health_failures_total"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(stateMetric(t, reg, "healthy")); got != 1 {
		t.Errorf("source_state{state=healthy} = %v, want 1", got)
	}
}

// TestMetricsHSM checks the PKCS#11 source's hsmrand and token metrics.
func TestMetricsHSM(t *testing.T) {
	s := fullSnapshot()
	s.Sources = s.Sources[1:]
	reg := gatherer(t, s)
	want := `
# HELP entropyd_hsm_requests_total Requests hsmrand made to the HSM, of up to 64 KiB each, over every token; a token with a smaller request limit serves one in several C_GenerateRandom calls.
# TYPE entropyd_hsm_requests_total counter
entropyd_hsm_requests_total{source="pkcs11"} 3
# HELP entropyd_hsm_health_failures_total SP 800-90B health test failures of the raw HSM bytes, by test (rct, apt) and kind (intermittent, permanent).
# TYPE entropyd_hsm_health_failures_total counter
entropyd_hsm_health_failures_total{kind="intermittent",source="pkcs11",test="apt"} 0
entropyd_hsm_health_failures_total{kind="intermittent",source="pkcs11",test="rct"} 1
entropyd_hsm_health_failures_total{kind="permanent",source="pkcs11",test="apt"} 0
entropyd_hsm_health_failures_total{kind="permanent",source="pkcs11",test="rct"} 0
# HELP entropyd_pkcs11_errors_total Faults by token and PKCS#11 return value (CKR_...), bad-block (short, all-zero or repeated output) or token-not-found, recovered ones included.
# TYPE entropyd_pkcs11_errors_total counter
entropyd_pkcs11_errors_total{code="CKR_DATA_LEN_RANGE",serial="a359c86d25489d00",source="pkcs11",token="vault"} 4
entropyd_pkcs11_errors_total{code="CKR_SESSION_CLOSED",serial="a359c86d25489d00",source="pkcs11",token="vault"} 1
# HELP entropyd_pkcs11_logins_total C_Login calls made, by token; a refused login is never retried.
# TYPE entropyd_pkcs11_logins_total counter
entropyd_pkcs11_logins_total{serial="a359c86d25489d00",source="pkcs11",token="vault"} 1
# HELP entropyd_pkcs11_generate_random_seconds_total Total time spent in C_GenerateRandom calls, by token, in seconds.
# TYPE entropyd_pkcs11_generate_random_seconds_total counter
entropyd_pkcs11_generate_random_seconds_total{serial="a359c86d25489d00",source="pkcs11",token="vault"} 8e-05
# HELP entropyd_pkcs11_max_request_bytes The largest C_GenerateRandom call now made to the token, in bytes: the configured limit (65536 by default), or less once the token refused a larger call as too large.
# TYPE entropyd_pkcs11_max_request_bytes gauge
entropyd_pkcs11_max_request_bytes{serial="a359c86d25489d00",source="pkcs11",token="vault"} 4096
`
	names := []string{"entropyd_hsm_requests_total", "entropyd_hsm_health_failures_total", "entropyd_pkcs11_errors_total",
		"entropyd_pkcs11_logins_total", "entropyd_pkcs11_generate_random_seconds_total", "entropyd_pkcs11_max_request_bytes"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "entropyd_pkcs11_token_state" && mf.GetName() != "entropyd_hsm_state" {
			continue
		}
		on := 0
		for _, m := range mf.GetMetric() {
			if m.GetGauge().GetValue() == 1 {
				on++
			}
		}
		if on != 1 {
			t.Errorf("%s: %d states set, want exactly 1", mf.GetName(), on)
		}
	}
}

// stateMetric returns a collector for one state series (for ToFloat64).
func stateMetric(t *testing.T, reg *prometheus.Registry, state string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "entropyd_source_state" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "state" && l.GetValue() == state {
					g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
					g.Set(m.GetGauge().GetValue())
					return g
				}
			}
		}
	}
	t.Fatal(errors.New("no state series " + state))
	return nil
}

func TestErrorCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{syscall.EIO, "EIO"},
		{&os.PathError{Op: "open", Path: "/x", Err: syscall.ENOENT}, "ENOENT"},
		{errors.New("x"), "other"},
		{codeErr("E1"), "E1"},
		// A PKCS#11 error is read by its type, wrapped as deep as it is.
		{fmt.Errorf("hsmrand: %w", fmt.Errorf("token 1 of 2: %w", &hsmrand.PKCS11Error{Func: "C_GenerateRandom", Code: 0x30})), "CKR_DEVICE_ERROR"},
		// Its text is not parsed: a message naming a code is not that code.
		{errors.New("p11: C_GenerateRandom: CKR_DEVICE_ERROR: check the HSM"), "other"},
	} {
		if got := errorCode(tc.err); got != tc.want {
			t.Errorf("errorCode(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

type codeErr string

func (c codeErr) Error() string { return string(c) }
func (c codeErr) Code() string  { return string(c) }
