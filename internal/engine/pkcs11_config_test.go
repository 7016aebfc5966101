package engine

import (
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/hsmrand"
	"github.com/stretchr/testify/assert"
)

// TestPKCS11Config checks the settings an engine source gets: fresh token
// bytes for every read, buffered no longer than a feed period, the
// engine's deadline and probe, and the MaxRequest given (0 keeps hc's).
func TestPKCS11Config(t *testing.T) {
	hc := hsmrand.Config{URI: "pkcs11:token=x", TokenOptions: hsmrand.TokenOptions{MaxRequest: 4096}}
	hc.Policy = hsmrand.Degrade
	hc.Shards = 4
	got := PKCS11Config(hc, PKCS11Options{FeedInterval: 7 * time.Second, Deadline: 3 * time.Second, ProbeInterval: time.Minute})
	assert.Equal(t, "pkcs11:token=x", got.URI)
	assert.Equal(t, 4096, got.MaxRequest, "MaxRequest 0 keeps hc's")
	assert.Equal(t, hsmrand.FailClosed, got.Policy)
	assert.True(t, got.PredictionResistance, "want prediction resistance")
	assert.Equal(t, 1, got.Shards)
	assert.IsType(t, OSReader(), got.OS)
	assert.Equal(t, 3*time.Second, got.Deadline)
	assert.Equal(t, 7*time.Second, got.MaxBufferAge)
	assert.Equal(t, hsmrand.MinHSMBuffer, got.HSMBuffer)
	assert.Equal(t, time.Minute, got.ProbeInterval)
	assert.Equal(t, hsmrand.Degrade, hc.Policy, "the caller's Config changed")

	got = PKCS11Config(hc, PKCS11Options{MaxRequest: 1024})
	assert.Equal(t, 1024, got.MaxRequest)
}
