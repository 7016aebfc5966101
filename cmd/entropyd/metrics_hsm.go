package main

import (
	"github.com/hsmentropy/hsmentropy/hsmrand"
	"github.com/prometheus/client_golang/prometheus"
)

// hsmStates are the hsmrand states entropyd_hsm_state reports.
var hsmStates = []hsmrand.State{hsmrand.StateHealthy, hsmrand.StateSourceDown, hsmrand.StateDegraded, hsmrand.StateFailed, hsmrand.StateClosed}

// tokenStates are the token states entropyd_pkcs11_token_state reports.
var tokenStates = []string{"up", "down", "failed", "closed"}

// hsmDescs describe the PKCS#11 source's own metrics, from hsmrand.Stats:
// what the token did, below the Reader that entropyd reads. The generic
// entropyd_source_* metrics of that source count Reader reads and test
// hsmrand's mixed output; these count C_GenerateRandom and test raw token
// bytes.
type hsmDescs struct {
	state, requests, requestErrs, bytes, requestSeconds, buffered    *prometheus.Desc
	healthFailures, quarantined, probes, expired                     *prometheus.Desc
	tokenState, tokenCalls, tokenLogins, tokenErrs, tokenReopens     *prometheus.Desc
	tokenRecoveries, tokenCallSeconds, tokenReinits, tokenMaxRequest *prometheus.Desc
}

func newHSMDescs() hsmDescs {
	tok := []string{"source", "token", "serial"}
	return hsmDescs{
		state:          desc("hsm_state", "1 for the state hsmrand's HSM stream is in (healthy, source-down, degraded, failed, closed), 0 for the others.", "source", "state"),
		requests:       desc("hsm_requests_total", "Requests hsmrand made to the HSM, of up to 64 KiB each, over every token; a token with a smaller request limit serves one in several C_GenerateRandom calls.", "source"),
		requestErrs:    desc("hsm_request_errors_total", "Requests to the HSM that failed, after the token layer's own recovery.", "source"),
		bytes:          desc("hsm_bytes_total", "Bytes the HSM returned, before health testing.", "source"),
		requestSeconds: desc("hsm_request_seconds_total", "Total time spent in requests to the HSM, in seconds.", "source"),
		buffered:       desc("hsm_buffered_bytes", "Health-tested HSM bytes buffered, ready for the mixer.", "source"),
		healthFailures: desc("hsm_health_failures_total", "SP 800-90B health test failures of the raw HSM bytes, by test (rct, apt) and kind (intermittent, permanent).", "source", "test", "kind"),
		quarantined:    desc("hsm_quarantined_bytes_total", "HSM bytes wiped unused because of a health test failure.", "source"),
		probes: desc("hsm_probes_total", "Liveness probes the HSM answered: 32-byte requests made when it had not been asked for 10 s, "+
			"so that an outage shows within seconds however full the buffer is; failed probes count in entropyd_hsm_request_errors_total.", "source"),
		expired:    desc("hsm_expired_bytes_total", "Buffered HSM bytes wiped unused because they reached their age limit (one feed interval).", "source"),
		tokenState: desc("pkcs11_token_state", "1 for the state the token is in (up, down, failed, closed), 0 for the others.", append(tok, "state")...),
		tokenCalls: desc("pkcs11_generate_random_calls_total", "C_GenerateRandom calls that returned, by token.", tok...),
		tokenCallSeconds: desc("pkcs11_generate_random_seconds_total",
			"Total time spent in C_GenerateRandom calls, by token, in seconds.", tok...),
		tokenLogins:     desc("pkcs11_logins_total", "C_Login calls made, by token; a refused login is never retried.", tok...),
		tokenErrs:       desc("pkcs11_errors_total", "Faults by token and PKCS#11 return value (CKR_...), bad-block (short, all-zero or repeated output) or token-not-found, recovered ones included.", append(tok, "code")...),
		tokenReopens:    desc("pkcs11_session_reopens_total", "Sessions replaced after CKR_SESSION_CLOSED or CKR_SESSION_HANDLE_INVALID, by token.", tok...),
		tokenRecoveries: desc("pkcs11_token_recoveries_total", "Times a token that was down was found again and served, by token.", tok...),
		tokenReinits: desc("pkcs11_module_reinitializations_total",
			"Re-initialisations of the PKCS#11 module (C_Finalize, C_Initialize) made to recover the token after the whole module failed, by token.", tok...),
		tokenMaxRequest: desc("pkcs11_max_request_bytes",
			"The largest C_GenerateRandom call now made to the token, in bytes: the configured limit (65536 by default), or less once the token refused a larger call as too large.", tok...),
	}
}

func (d *hsmDescs) all() []*prometheus.Desc {
	return []*prometheus.Desc{
		d.state, d.requests, d.requestErrs, d.bytes, d.requestSeconds, d.buffered,
		d.healthFailures, d.quarantined, d.probes, d.expired,
		d.tokenState, d.tokenCalls, d.tokenCallSeconds, d.tokenLogins, d.tokenErrs, d.tokenReopens, d.tokenRecoveries, d.tokenReinits,
		d.tokenMaxRequest,
	}
}

// collect sends the metrics of one source's hsmrand snapshot.
func (d *hsmDescs) collect(ch chan<- prometheus.Metric, n string, h *hsmrand.Stats,
	counter func(*prometheus.Desc, uint64, ...string), gauge func(*prometheus.Desc, float64, ...string)) {
	seconds := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	for _, st := range hsmStates {
		gauge(d.state, boolFloat(h.State == st), n, st.String())
	}
	counter(d.requests, h.HSMCalls, n)
	counter(d.requestErrs, h.HSMErrors, n)
	counter(d.bytes, h.HSMBytes, n)
	seconds(d.requestSeconds, h.HSMLatency.Seconds(), n)
	gauge(d.buffered, float64(h.HSMBuffered), n)
	for _, t := range []struct {
		name                    string
		intermittent, permanent int64
	}{
		{"rct", h.Health.RCT.Intermittent, h.Health.RCT.Permanent},
		{"apt", h.Health.APT.Intermittent, h.Health.APT.Permanent},
	} {
		counter(d.healthFailures, uint64(t.intermittent), n, t.name, "intermittent")
		counter(d.healthFailures, uint64(t.permanent), n, t.name, "permanent")
	}
	counter(d.quarantined, h.Quarantined, n)
	counter(d.probes, h.Probes, n)
	counter(d.expired, h.Expired, n)
	for _, t := range h.Tokens {
		l := []string{n, t.Label, t.Serial}
		for _, st := range tokenStates {
			gauge(d.tokenState, boolFloat(t.State == st), append(l, st)...)
		}
		counter(d.tokenCalls, t.Calls, l...)
		seconds(d.tokenCallSeconds, t.Latency.Seconds(), l...)
		counter(d.tokenLogins, t.Logins, l...)
		counter(d.tokenReopens, t.Reopens, l...)
		counter(d.tokenRecoveries, t.Recoveries, l...)
		counter(d.tokenReinits, t.Reinitializations, l...)
		gauge(d.tokenMaxRequest, float64(t.MaxRequest), l...)
		for code, v := range t.Errors {
			counter(d.tokenErrs, v, append(l, code)...)
		}
	}
}
