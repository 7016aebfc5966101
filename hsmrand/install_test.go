package hsmrand

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"os"
	"testing"
	"time"
)

// These tests replace crypto/rand.Reader and GODEBUG, which are process
// globals: none of them runs in parallel.

// served returns the bytes r has served so far (exact: no read is in
// flight when the tests call it).
func served(r *Reader) uint64 { return r.Stats().BytesServed }

// TestInstallKeyGeneration: after Install, crypto/rand.Read and Go 1.26's
// key generation (ecdsa, rsa, ed25519 with a nil reader) draw from the
// Reader, because Install sets GODEBUG=cryptocustomrand=1; restore undoes
// both.
func TestInstallKeyGeneration(t *testing.T) {
	t.Setenv("GODEBUG", "x509sha1=1")
	r := newFakeReader(t, newFakeSource(20), Options{})
	prev := rand.Reader
	restore := Install(r)
	if got := os.Getenv("GODEBUG"); got != "x509sha1=1,cryptocustomrand=1" {
		t.Errorf("GODEBUG after Install = %q", got)
	}
	for _, tc := range []struct {
		name string
		gen  func() error
	}{
		{"crypto/rand.Read", func() error { _, err := rand.Read(make([]byte, 32)); return err }},
		{"ecdsa.GenerateKey", func() error { _, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return err }},
		{"rsa.GenerateKey", func() error { _, err := rsa.GenerateKey(rand.Reader, 1024); return err }},
		{"ed25519.GenerateKey(nil)", func() error { _, _, err := ed25519.GenerateKey(nil); return err }},
	} {
		before := served(r)
		if err := tc.gen(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if n := served(r) - before; n == 0 {
			t.Errorf("%s drew nothing from the installed Reader", tc.name)
		} else {
			t.Logf("%s drew %d bytes from the installed Reader", tc.name, n)
		}
	}
	restore()
	restore() // harmless
	if rand.Reader != prev {
		t.Error("restore did not put crypto/rand.Reader back")
	}
	if got := os.Getenv("GODEBUG"); got != "x509sha1=1" {
		t.Errorf("GODEBUG after restore = %q", got)
	}
	before := served(r)
	if _, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	rand.Read(make([]byte, 32))
	if served(r) != before {
		t.Error("the Reader still serves after restore")
	}
}

// TestInstallRespectsExplicitGODEBUG: with GODEBUG=cryptocustomrand=0 set
// by the user, Install leaves it, and ecdsa and rsa then ignore the
// installed Reader while crypto/rand.Read uses it. This is also the
// control for the test above: without the setting, key generation does
// not draw from the Reader. Go 1.25 has no such setting, and there key
// generation draws from the reader it is given.
func TestInstallRespectsExplicitGODEBUG(t *testing.T) {
	t.Setenv("GODEBUG", "cryptocustomrand=0")
	r := newFakeReader(t, newFakeSource(21), Options{})
	restore := Install(r)
	defer restore()
	if got := os.Getenv("GODEBUG"); got != "cryptocustomrand=0" {
		t.Errorf("GODEBUG after Install = %q", got)
	}
	before := served(r)
	if _, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if _, err := rsa.GenerateKey(rand.Reader, 1024); err != nil {
		t.Fatal(err)
	}
	switch n := served(r) - before; {
	case keygenNeedsGODEBUG && n != 0:
		t.Errorf("with cryptocustomrand=0, key generation drew %d bytes from the Reader", n)
	case !keygenNeedsGODEBUG && n == 0:
		t.Error("before Go 1.26, key generation did not draw from the reader it was given")
	}
	rand.Read(make([]byte, 32))
	if served(r) == before {
		t.Error("crypto/rand.Read did not use the installed Reader")
	}
}

func TestInstallUnsetGODEBUG(t *testing.T) {
	t.Setenv("GODEBUG", "")
	os.Unsetenv("GODEBUG")
	r := newFakeReader(t, newFakeSource(22), Options{})
	restore := Install(r)
	if got := os.Getenv("GODEBUG"); got != "cryptocustomrand=1" {
		t.Errorf("GODEBUG after Install = %q", got)
	}
	restore()
	if _, had := os.LookupEnv("GODEBUG"); had {
		t.Error("restore left GODEBUG set")
	}
}

// readInBackground calls crypto/rand.Read and reports when it returns.
func readInBackground() <-chan []byte {
	done := make(chan []byte, 1)
	go func() {
		p := make([]byte, 32)
		rand.Read(p) // crashes the process if the installed Reader fails
		done <- p
	}()
	return done
}

// TestInstalledFailClosedBlocks: under FailClosed, with the HSM down and
// the buffer empty, an installed Reader blocks instead of returning the
// error that would crash the process, and serves when the HSM is back.
func TestInstalledFailClosedBlocks(t *testing.T) {
	f := newFakeSource(23)
	r := newFakeReader(t, f, Options{HSMBuffer: MinHSMBuffer, Deadline: 20 * time.Millisecond, PredictionResistance: true})
	f.set(fakeDown)
	if err := drain(r, 1000); err == nil {
		t.Fatal("the buffer did not run dry")
	}
	restore := Install(r)
	defer restore()
	done := readInBackground()
	select {
	case <-done:
		t.Fatal("crypto/rand.Read returned with the HSM down under FailClosed")
	case <-time.After(200 * time.Millisecond):
	}
	if r.Stats().InstalledWaits == 0 {
		t.Error("InstalledWaits not counted")
	}
	f.set(fakeOK)
	select {
	case p := <-done:
		if allZero(p) {
			t.Error("zero output")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("crypto/rand.Read still blocked after the HSM came back")
	}
}

// TestInstalledDegradeServes: under Degrade, an installed Reader serves at
// once with the HSM down.
func TestInstalledDegradeServes(t *testing.T) {
	f := newFakeSource(24)
	r := newFakeReader(t, f, Options{Policy: Degrade, HSMBuffer: MinHSMBuffer, PredictionResistance: true})
	f.set(fakeDown)
	restore := Install(r)
	defer restore()
	for range 100 {
		select {
		case <-readInBackground():
		case <-time.After(10 * time.Second):
			t.Fatal("crypto/rand.Read blocked under Degrade")
		}
	}
	if st := r.Stats(); st.State != StateDegraded {
		t.Errorf("state %v, want degraded", st.State)
	}
}

// TestInstalledStickyFailureThenClose: after a permanent failure under
// FailClosed an installed Reader blocks for good; after Close the blocked
// read, and later ones, are served by the Reader it replaced, until
// restore.
func TestInstalledStickyFailureThenClose(t *testing.T) {
	f := newFakeSource(25)
	r := newFakeReader(t, f, Options{HSMBuffer: MinHSMBuffer, PredictionResistance: true})
	prev := rand.Reader
	restore := Install(r)
	defer restore()
	f.set(fakeStuck)
	waitFor(t, "the permanent failure", func() bool {
		r.GetRandom(1)
		return r.Stats().State == StateFailed
	})
	done := readInBackground()
	select {
	case <-done:
		t.Fatal("crypto/rand.Read returned after a permanent failure under FailClosed")
	case <-time.After(250 * time.Millisecond):
	}
	r.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("crypto/rand.Read still blocked after Close")
	}
	if _, err := rand.Read(make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	restore()
	if rand.Reader != prev {
		t.Error("restore did not put crypto/rand.Reader back")
	}
}

func TestGodebugNames(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want bool
	}{
		{"", false},
		{"cryptocustomrand=1", true},
		{"x=1,cryptocustomrand=0", true},
		{"x=1, cryptocustomrand=0", false}, // the runtime does not trim spaces either
		{"xcryptocustomrand=1", false},
		{"cryptocustomrandx=1", false},
		{"cryptocustomrand", false},
	} {
		if got := godebugNames(tc.v, godebugCustomRand); got != tc.want {
			t.Errorf("godebugNames(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}
