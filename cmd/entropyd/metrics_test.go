package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/health"
	"github.com/hsmentropy/hsmentropy/hsmrand"
	"github.com/hsmentropy/hsmentropy/internal/engine"
	"github.com/hsmentropy/hsmentropy/kernelfeed"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fullSnapshot is a snapshot in which every metric has a value.
func fullSnapshot() engine.Stats {
	now := time.Unix(1800000000, 0)
	// Two reads of 64 bytes, in 50 µs and 2 s, 48 bytes used, one EIO.
	c := engine.Counters{Bytes: 128, Reads: 2, Used: 48,
		Buckets: []uint64{0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2}, Sum: 2*time.Second + 50*time.Microsecond,
		Errors: map[string]uint64{"EIO": 1}}
	return engine.Stats{
		Sources: []engine.SourceStats{{
			Name: "hwrng", State: engine.StateHealthy, Counters: c,
			Health: health.Stats{State: health.Operational, Samples: 128, StartUps: 1,
				RCT: health.Counts{Intermittent: 1, Max: 3, Cutoff: 9, PermanentCutoff: 17},
				APT: health.Counts{Max: 6, Cutoff: 26, PermanentCutoff: 41}},
		}, {
			Name: "pkcs11", State: engine.StateHealthy, Counters: c,
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

func gatherer(t *testing.T, s engine.Stats) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(newCollector(func() engine.Stats { return s })))
	return reg
}

// TestMetricsGolden pins the names, types and help texts of the metrics:
// dashboards and alerts depend on them. Run with -update after a deliberate
// change.
func TestMetricsGolden(t *testing.T) {
	mfs, err := gatherer(t, fullSnapshot()).Gather()
	require.NoError(t, err)
	var b strings.Builder
	for _, mf := range mfs {
		b.WriteString("# HELP " + mf.GetName() + " " + mf.GetHelp() + "\n")
		b.WriteString("# TYPE " + mf.GetName() + " " + strings.ToLower(mf.GetType().String()) + "\n")
	}
	golden := filepath.Join("testdata", "metrics.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(b.String()), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), b.String(), "metrics differ from %s (run go test -update after a deliberate change)", golden)
}

// TestMetricsLint runs promlint, the checks of promtool check metrics.
func TestMetricsLint(t *testing.T) {
	problems, err := testutil.GatherAndLint(gatherer(t, fullSnapshot()))
	require.NoError(t, err)
	assert.Empty(t, problems, "promlint problems")
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
	assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), names...))
	assert.Equal(t, 1.0, testutil.ToFloat64(stateMetric(t, reg, "healthy")), "source_state{state=healthy}")
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
	assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), names...))
	mfs, err := reg.Gather()
	require.NoError(t, err)
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
		assert.Equal(t, 1, on, "%s: states set", mf.GetName())
	}
}

// stateMetric returns a collector for one state series (for ToFloat64).
func stateMetric(t *testing.T, reg *prometheus.Registry, state string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
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
	require.FailNow(t, "no state series "+state)
	return nil
}
