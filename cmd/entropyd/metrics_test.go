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
		}},
		Kernel:      kernelfeed.Stats{Feeds: 1, Bytes: 64, CreditedBits: 384, Reseeds: 1},
		KernelFed:   true,
		KernelReady: true, KernelReadyKnown: true,
		FeedsOK:  1,
		LastFeed: now.Add(-time.Second),
		MixerOK:  true,
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
	reg := gatherer(t, fullSnapshot())
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
		{fmt.Errorf("hsmrand: %w", errors.New("p11: C_GenerateRandom: CKR_DEVICE_ERROR: check the HSM")), "CKR_DEVICE_ERROR"},
	} {
		if got := errorCode(tc.err); got != tc.want {
			t.Errorf("errorCode(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

type codeErr string

func (c codeErr) Error() string { return string(c) }
func (c codeErr) Code() string  { return string(c) }
