package vault

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"crypto/rand"

	"github.com/stretchr/testify/require"
)

// countReader counts what it serves from crypto/rand's default source.
type countReader struct{ n atomic.Uint64 }

func (c *countReader) Read(p []byte) (int, error) {
	n, err := io.ReadFull(rand.Reader, p)
	c.n.Add(uint64(n))
	return n, err
}

// customRandByDefault reports whether ecdsa and rsa use a custom reader with
// GODEBUG unset: always before Go 1.26, and under Go 1.26 when the main
// module's go line is older than 1.26, which makes cryptocustomrand=1 the
// default (the binary's DefaultGODEBUG says so).
func customRandByDefault() bool {
	if !keygenNeedsGODEBUG {
		return true
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "DefaultGODEBUG" {
			return slices.Contains(strings.Split(s.Value, ","), "cryptocustomrand=1")
		}
	}
	return false
}

// TestGODEBUGSetenv checks the claim that a GODEBUG change made with
// os.Setenv while the process runs reaches crypto/ecdsa: GenerateKey reads a
// custom reader only while cryptocustomrand=1 is in effect (before Go 1.26,
// always). (TestKeyTypes still gives each setting its own process.)
func TestGODEBUGSetenv(t *testing.T) {
	if os.Getenv(childModeEnv) != "" {
		t.Skip("child process")
	}
	read := func() uint64 {
		var c countReader
		_, err := ecdsa.GenerateKey(elliptic.P256(), &c)
		require.NoError(t, err)
		return c.n.Load()
	}
	t.Setenv("GODEBUG", "cryptocustomrand=0")
	if n := read(); keygenNeedsGODEBUG {
		require.Zero(t, n, "cryptocustomrand=0: bytes ecdsa.GenerateKey read from a custom reader")
	} else {
		require.NotZero(t, n, "before Go 1.26, ecdsa.GenerateKey ignored the custom reader")
	}
	t.Setenv("GODEBUG", "cryptocustomrand=1")
	require.NotZero(t, read(), "after os.Setenv(GODEBUG=cryptocustomrand=1): ecdsa.GenerateKey ignored the custom reader")
	t.Setenv("GODEBUG", "")
	if n := read(); customRandByDefault() {
		require.NotZero(t, n, "after os.Setenv(GODEBUG=), with cryptocustomrand=1 the default: ecdsa.GenerateKey ignored the custom reader")
	} else {
		require.Zero(t, n, "after os.Setenv(GODEBUG=): bytes ecdsa.GenerateKey read from a custom reader")
	}
}
