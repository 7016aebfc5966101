package main

import (
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/internal/faultp11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunTokenRequestLimit: behind a module that carries at most 1 KiB per
// C_GenerateRandom call (entropyd draws its 2 KiB buffer in one call),
// entropyd's token source learns the limit and delivers, and the metrics
// show the limit and the refusal; set lower (here through the
// environment), the limit spares the refusals.
func TestRunTokenRequestLimit(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      []string
		want     float64
		refusals float64
	}{
		{"learned", nil, 1024, 1},
		{"configured", []string{envPrefix + "PKCS11_MAX_REQUEST=512"}, 512, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, uri, ctl, tok := faultyToken(t, "", false)
			require.NoError(t, ctl.Set(faultp11.MaxRandom(1024, 0)))
			d := startDaemon(t, append(env, tc.env...), "--no-feed", "--pkcs11-uri", uri, "--feed-interval", "200ms", "--source-timeout", "1s")
			d.waitLog(regexp.MustCompile(`fed the kernel`), 10*time.Second)
			tl := `{serial="` + tok.Serial + `",source="pkcs11",token="` + tok.Label + `"}`
			waitMetric(t, d, `entropyd_source_state{source="pkcs11",state="healthy"}`, func(v float64) bool { return v == 1 }, 10*time.Second)
			_, body := d.get("/metrics")
			v, ok := metricValue(body, `entropyd_pkcs11_max_request_bytes`+tl)
			assert.True(t, ok, "no entropyd_pkcs11_max_request_bytes series")
			assert.Equal(t, tc.want, v)
			v, _ = metricValue(body, `entropyd_pkcs11_errors_total{code="CKR_DATA_LEN_RANGE",serial="`+tok.Serial+`",source="pkcs11",token="`+tok.Label+`"}`)
			assert.Equal(t, tc.refusals, v, "refusals counted")
			v, _ = metricValue(body, `entropyd_hsm_request_errors_total{source="pkcs11"}`)
			assert.Zero(t, v, "a refused size failed a request")
			v, _ = metricValue(body, `entropyd_pkcs11_token_state{serial="`+tok.Serial+`",source="pkcs11",state="up",token="`+tok.Label+`"}`)
			assert.Equal(t, 1.0, v, "token not up")
			lintMetrics(t, body)
			assert.Zero(t, d.stop(syscall.SIGTERM), "exit status after SIGTERM")
		})
	}
}

func TestMaxRequestOption(t *testing.T) {
	cfg, _, err := loadConfig("run", []string{"--pkcs11-uri", "pkcs11:token=a?module-path=/x.so", "--pkcs11-max-request", "1024"},
		func(string) (string, bool) { return "", false }, nil)
	require.NoError(t, err)
	hc, err := pkcs11Config(cfg)
	require.NoError(t, err)
	assert.Equal(t, 1024, hc.MaxRequest)

	for _, n := range []string{"31", "65537", "-1"} {
		_, _, err := loadConfig("run", []string{"--pkcs11-max-request", n}, func(string) (string, bool) { return "", false }, nil)
		assert.ErrorContains(t, err, "invalid value for --pkcs11-max-request: "+n, n)
	}
}
