//go:build !go1.26

package hsmrand

import (
	"crypto/ecdh"
	"crypto/fips140"
	"strings"
)

// customRandKnown: before Go 1.26 there is no GODEBUG=cryptocustomrand, and
// key generation always uses the reader it is passed.
const customRandKnown = false

// fipsOnly reports whether Go refuses every reader but its own for key
// generation (GODEBUG=fips140=only). Go 1.25 has no fips140.Enforced, so
// this asks crypto/ecdh, which refuses another reader before reading it.
func fipsOnly() bool {
	if !fips140.Enabled() {
		return false
	}
	_, err := ecdh.P256().GenerateKey(probeReader{})
	return err != nil && strings.Contains(err.Error(), "FIPS 140-only")
}

// probeReader is a reader other than crypto/rand.Reader, serving Go's own
// random bytes (it is read only outside fips140=only).
type probeReader struct{}

func (probeReader) Read(p []byte) (int, error) { return systemReader.Read(p) }
