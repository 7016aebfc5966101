package vault

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"io"
	"os"
	"sync/atomic"
	"testing"

	"crypto/rand"
)

// countReader counts what it serves from crypto/rand's default source.
type countReader struct{ n atomic.Uint64 }

func (c *countReader) Read(p []byte) (int, error) {
	n, err := io.ReadFull(rand.Reader, p)
	c.n.Add(uint64(n))
	return n, err
}

// TestGODEBUGSetenv checks the claim that a GODEBUG change made with
// os.Setenv while the process runs reaches crypto/ecdsa: GenerateKey reads a
// custom reader only while cryptocustomrand=1 is in effect. (TestKeyTypes
// still gives each setting its own process.)
func TestGODEBUGSetenv(t *testing.T) {
	if os.Getenv(childModeEnv) != "" {
		t.Skip("child process")
	}
	read := func() uint64 {
		var c countReader
		if _, err := ecdsa.GenerateKey(elliptic.P256(), &c); err != nil {
			t.Fatal(err)
		}
		return c.n.Load()
	}
	t.Setenv("GODEBUG", "cryptocustomrand=0")
	if n := read(); n != 0 {
		t.Fatalf("cryptocustomrand=0: ecdsa.GenerateKey read %d bytes from a custom reader, want 0", n)
	}
	t.Setenv("GODEBUG", "cryptocustomrand=1")
	if n := read(); n == 0 {
		t.Fatal("after os.Setenv(GODEBUG=cryptocustomrand=1): ecdsa.GenerateKey ignored the custom reader")
	}
	t.Setenv("GODEBUG", "")
	if n := read(); n != 0 {
		t.Fatalf("after os.Setenv(GODEBUG=): ecdsa.GenerateKey read %d bytes from a custom reader, want 0", n)
	}
}
