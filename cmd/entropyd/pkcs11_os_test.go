package main

import (
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/internal/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPKCS11ConfigOS: the PKCS#11 source's mixer (hsmrand's) reads its OS
// input through engine.OSReader, which does not wait for the kernel RNG
// (engine's TestPKCS11SourceEarlyBoot shows it serving early in boot), not
// through crypto/rand, which would.
func TestPKCS11ConfigOS(t *testing.T) {
	t.Setenv(pinEnv, "1234")
	cfg := runConfig{pkcs11URI: "pkcs11:token=x?module-path=/nonexistent.so", startupTimeout: 10 * time.Second, sourceTimeout: 2 * time.Second, feedInterval: 10 * time.Second}
	hc, err := pkcs11Config(&cfg)
	require.NoError(t, err)
	defer clear(hc.PIN)
	assert.IsType(t, engine.OSReader(), hc.OS)
}
