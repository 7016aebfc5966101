package hsmrand

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/fips140"
	"crypto/rand"
	"crypto/rsa"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests replace crypto/rand.Reader and GODEBUG, which are process
// globals: none of them runs in parallel. They pass in every FIPS 140-3
// mode (GODEBUG=fips140=on or only, a GOFIPS140 build), where Install
// refuses what Go would refuse.

// served returns the bytes r has served so far (exact: no read is in
// flight when the tests call it).
func served(r *Reader) uint64 { return r.Stats().BytesServed }

// rsaBits is the smallest RSA key size every FIPS 140-3 mode allows.
const rsaBits = 2048

// install installs r for a test of the installed Reader's behaviour, with
// key generation only where Install would refuse without it. Under
// fips140=only, where Install refuses, the test is skipped
// (TestInstallFIPSOnly covers that mode).
func install(t *testing.T, r *Reader) (restore func()) {
	t.Helper()
	if fipsOnly() {
		t.Skip("Install refuses under GODEBUG=fips140=only")
	}
	restore, err := Install(r, &InstallOptions{KeyGeneration: fips140.Enabled() && keysFollowReader()})
	require.NoError(t, err)
	return restore
}

// envState is GODEBUG as LookupEnv sees it.
type envState struct {
	v   string
	set bool
}

func godebugNow() envState {
	v, ok := os.LookupEnv("GODEBUG")
	return envState{v, ok}
}

// TestInstallDefault: Install without options changes crypto/rand.Reader
// and nothing else: GODEBUG stays as it was, Go 1.26's key generation stays
// on Go's generator (with no panic on a nil reader), and restore puts
// crypto/rand.Reader back.
func TestInstallDefault(t *testing.T) {
	if fipsOnly() || fips140.Enabled() && keysFollowReader() {
		t.Skip("Install refuses without KeyGeneration in this mode; TestInstallFIPS covers it")
	}
	t.Setenv("GODEBUG", "x509sha1=1")
	r := newFakeReader(t, newFakeSource(20), Options{})
	prev := rand.Reader
	restore, err := Install(r, nil)
	require.NoError(t, err)
	assert.Equal(t, "x509sha1=1", os.Getenv("GODEBUG"), "Install without KeyGeneration changed GODEBUG")
	assert.Same(t, r, Installed())

	before := served(r)
	rand.Read(make([]byte, 32))
	assert.NotZero(t, served(r)-before, "crypto/rand.Read did not use the installed Reader")

	if !keysFollowReader() {
		before = served(r)
		_, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		assert.Zero(t, served(r)-before, "ecdsa.GenerateKey drew from the Reader without KeyGeneration")
		assert.NotPanics(t, func() {
			_, err := ecdh.P256().GenerateKey(nil)
			assert.NoError(t, err)
			_, err = ecdsa.GenerateKey(elliptic.P256(), nil)
			assert.NoError(t, err)
		}, "key generation with a nil reader")
	} else {
		t.Log("this binary runs with cryptocustomrand=1 (or Go < 1.26): key generation follows the reader whatever Install does")
	}
	restore()
	restore() // harmless
	assert.Equal(t, prev, rand.Reader, "restore did not put crypto/rand.Reader back")
	assert.Nil(t, Installed())
}

// TestInstallKeyGeneration: with KeyGeneration, crypto/rand.Read and Go's
// key generation (ecdsa, rsa, ed25519 with a nil reader) draw from the
// Reader; GODEBUG gains cryptocustomrand=1 beside the user's settings, and
// restore puts it back as it was.
func TestInstallKeyGeneration(t *testing.T) {
	if fipsOnly() {
		t.Skip("Install refuses under GODEBUG=fips140=only")
	}
	t.Setenv("GODEBUG", "x509sha1=1")
	r := newFakeReader(t, newFakeSource(21), Options{})
	prev := rand.Reader
	want := "x509sha1=1,cryptocustomrand=1"
	if !customRandKnown || customRandOnByDefault() {
		want = "x509sha1=1" // on already (or not needed): nothing to add
	}
	restore, err := Install(r, &InstallOptions{KeyGeneration: true})
	require.NoError(t, err)
	assert.Equal(t, want, os.Getenv("GODEBUG"))
	assert.True(t, keysFollowReader())
	for _, tc := range []struct {
		name string
		gen  func() error
	}{
		{"crypto/rand.Read", func() error { _, err := rand.Read(make([]byte, 32)); return err }},
		{"ecdsa.GenerateKey", func() error { _, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return err }},
		{"rsa.GenerateKey", func() error { _, err := rsa.GenerateKey(rand.Reader, rsaBits); return err }},
		{"ed25519.GenerateKey(nil)", func() error { _, _, err := ed25519.GenerateKey(nil); return err }},
	} {
		before := served(r)
		require.NoError(t, tc.gen(), tc.name)
		assert.NotZero(t, served(r)-before, "%s drew nothing from the installed Reader", tc.name)
	}
	if customRandKnown {
		// The documented cost of the setting: Go 1.26 passes a nil reader on.
		assert.Panics(t, func() { ecdh.P256().GenerateKey(nil) }, "ecdh GenerateKey(nil) under cryptocustomrand=1")
	}
	restore()
	assert.Equal(t, prev, rand.Reader, "restore did not put crypto/rand.Reader back")
	assert.Equal(t, "x509sha1=1", os.Getenv("GODEBUG"), "GODEBUG after restore")
}

// TestInstallRespectsExplicitGODEBUG: GODEBUG=cryptocustomrand=0 from the
// environment is kept: Install with KeyGeneration fails and changes
// nothing; without it, key generation stays on Go's generator while
// crypto/rand.Read uses the Reader.
func TestInstallRespectsExplicitGODEBUG(t *testing.T) {
	if fipsOnly() {
		t.Skip("Install refuses under GODEBUG=fips140=only")
	}
	t.Setenv("GODEBUG", "x509sha1=1,cryptocustomrand=0")
	r := newFakeReader(t, newFakeSource(22), Options{})
	if customRandKnown { // Go 1.25 has no such setting to refuse
		prev := rand.Reader
		_, err := Install(r, &InstallOptions{KeyGeneration: true})
		require.ErrorContains(t, err, "cryptocustomrand=0")
		assert.Equal(t, prev, rand.Reader, "a failed Install changed crypto/rand.Reader")
		assert.Equal(t, "x509sha1=1,cryptocustomrand=0", os.Getenv("GODEBUG"))
	}

	restore, err := Install(r, nil)
	require.NoError(t, err)
	defer restore()
	assert.Equal(t, "x509sha1=1,cryptocustomrand=0", os.Getenv("GODEBUG"))
	before := served(r)
	_, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	_, err = rsa.GenerateKey(rand.Reader, rsaBits)
	require.NoError(t, err)
	// Go 1.25 has no such setting: there key generation draws from the
	// reader it is given (keygen_go125_test.go).
	if n := served(r) - before; keygenNeedsGODEBUG {
		assert.Zero(t, n, "with cryptocustomrand=0, key generation drew from the Reader")
	} else {
		assert.NotZero(t, n, "before Go 1.26, key generation did not draw from the reader it was given")
	}
	rand.Read(make([]byte, 32))
	assert.NotZero(t, served(r)-before, "crypto/rand.Read did not use the installed Reader")
}

// TestInstallNested: restores in any order leave a consistent state: the
// last Reader installed and not restored is crypto/rand.Reader, the
// setting stays on while an install that asked for it remains, and after
// the last restore everything is as before the first Install.
func TestInstallNested(t *testing.T) {
	if fipsOnly() {
		t.Skip("Install refuses under GODEBUG=fips140=only")
	}
	a := newFakeReader(t, newFakeSource(23), Options{})
	b := newFakeReader(t, newFakeSource(24), Options{})
	keygen := &InstallOptions{KeyGeneration: true}
	for _, tc := range []struct {
		name      string
		env       *string // nil: GODEBUG unset
		optA      *InstallOptions
		optB      *InstallOptions
		aFirst    bool // restore a before b
		onAfter1  bool // the setting is still held after the first restore
		wantAfter *Reader
	}{
		{"a b, restore a then b, both keygen", ptr("x=1"), keygen, keygen, true, true, b},
		{"a b, restore b then a, both keygen", nil, keygen, keygen, false, true, a},
		{"a keygen, b not, restore a first", ptr(""), keygen, nil, true, false, b},
		{"a keygen, b not, restore b first", nil, keygen, nil, false, true, a},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env == nil {
				t.Setenv("GODEBUG", "")
				os.Unsetenv("GODEBUG")
			} else {
				t.Setenv("GODEBUG", *tc.env)
			}
			if fips140.Enabled() && (tc.optA == nil || tc.optB == nil) {
				t.Skip("in FIPS mode Install refuses without KeyGeneration while key generation follows the reader")
			}
			env0, prev := godebugNow(), rand.Reader
			restoreA, err := Install(a, tc.optA)
			require.NoError(t, err)
			t.Cleanup(restoreA)
			restoreB, err := Install(b, tc.optB)
			require.NoError(t, err)
			t.Cleanup(restoreB)
			assert.Same(t, b, Installed())
			assert.True(t, keysFollowReader())
			if tc.aFirst {
				restoreA()
			} else {
				restoreB()
			}
			assert.Same(t, tc.wantAfter, Installed(), "the Reader installed after one restore")
			if customRandKnown && !customRandOnByDefault() {
				assert.Equal(t, tc.onAfter1, keysFollowReader(), "cryptocustomrand=1 after one restore")
			}
			restoreA()
			restoreB()
			assert.Equal(t, prev, rand.Reader, "crypto/rand.Reader after the last restore")
			assert.Nil(t, Installed())
			assert.Equal(t, env0, godebugNow(), "GODEBUG after the last restore")
		})
	}
}

func ptr[T any](v T) *T { return &v }

// runTestChild runs this test binary again for the tests run matches, with
// GODEBUG and the given variables (GODEBUG among them) in its environment.
func runTestChild(t *testing.T, run string, env ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run="+run, "-test.count=1", "-test.v")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	return cmd.CombinedOutput()
}

// customRandOnByDefault reports whether this binary's own default turns
// cryptocustomrand on (a go.mod that says go 1.25, say).
func customRandOnByDefault() bool {
	old, had := os.LookupEnv("GODEBUG")
	os.Unsetenv("GODEBUG")
	on := customRandOn()
	if had {
		os.Setenv("GODEBUG", old)
	}
	return on
}

// TestEnviron: while an install holds the setting, Environ gives child
// processes the environment without it; GODEBUG itself keeps it.
func TestEnviron(t *testing.T) {
	if fipsOnly() {
		t.Skip("Install refuses under fips140=only")
	}
	t.Setenv("GODEBUG", "x509sha1=1")
	// Before Go 1.26 there is no such setting, and a binary whose go.mod
	// says go 1.25 has it on by default: then Install adds nothing, and
	// both GODEBUG and what children inherit stay as they were.
	addsNothing := !customRandKnown || customRandOnByDefault()
	r := newFakeReader(t, newFakeSource(25), Options{})
	restore, err := Install(r, &InstallOptions{KeyGeneration: true})
	require.NoError(t, err)
	defer restore()
	if addsNothing {
		assert.Equal(t, "x509sha1=1", os.Getenv("GODEBUG"))
		assert.Contains(t, Environ(), "GODEBUG=x509sha1=1")
		return
	}
	assert.Equal(t, "x509sha1=1,cryptocustomrand=1", os.Getenv("GODEBUG"))
	assert.Contains(t, Environ(), "GODEBUG=x509sha1=1")
	assert.NotContains(t, Environ(), "GODEBUG=x509sha1=1,cryptocustomrand=1")
}

// TestInstallFIPS: in Go's FIPS 140-3 mode Install never sets up key
// generation Go would refuse. Under fips140=only it refuses, saying why
// and what to do, and changes nothing; under fips140=on (and in a GOFIPS140
// build) it installs, leaving key generation to Go unless asked. Each mode
// runs in a child process: the mode is fixed at start-up.
func TestInstallFIPS(t *testing.T) {
	if os.Getenv("HSMRAND_TEST_FIPS_CHILD") != "" {
		checkInstallFIPS(t)
		return
	}
	for _, mode := range []string{"on", "only"} {
		t.Run(mode, func(t *testing.T) {
			out, err := runTestChild(t, "^TestInstallFIPS$", "HSMRAND_TEST_FIPS_CHILD=1", "GODEBUG=fips140="+mode)
			require.NoError(t, err, "%s", out)
			assert.Contains(t, string(out), "--- PASS: TestInstallFIPS")
		})
	}
}

// checkInstallFIPS is TestInstallFIPS in the child (or in a test run in a
// FIPS mode).
func checkInstallFIPS(t *testing.T) {
	require.True(t, fips140.Enabled(), "the child runs in FIPS 140-3 mode")
	r := newFakeReader(t, newFakeSource(26), Options{})
	prev, env0 := rand.Reader, godebugNow()
	if fipsOnly() {
		for _, o := range []*InstallOptions{nil, {KeyGeneration: true}} {
			_, err := Install(r, o)
			require.ErrorContains(t, err, "fips140=only")
			assert.ErrorContains(t, err, "entropyd")
			assert.Equal(t, prev, rand.Reader)
			assert.Equal(t, env0, godebugNow())
		}
		_, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		assert.NoError(t, err, "key generation after the refused Install")
		return
	}
	restore, err := Install(r, nil)
	if keysFollowReader() {
		require.ErrorContains(t, err, "KeyGeneration", "keys would come from the Reader without being asked")
		assert.Equal(t, prev, rand.Reader)
	} else {
		require.NoError(t, err)
		before := served(r)
		_, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		assert.Zero(t, served(r)-before, "a key drawn from the Reader in FIPS mode without KeyGeneration")
		restore()
	}
	restore, err = Install(r, &InstallOptions{KeyGeneration: true})
	require.NoError(t, err)
	before := served(r)
	_, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	assert.NotZero(t, served(r)-before, "KeyGeneration asked in fips140=on: the key comes from the Reader")
	restore()
	assert.Equal(t, env0, godebugNow())
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
	f := newFakeSource(27)
	r := newFakeReader(t, f, Options{HSMBuffer: MinHSMBuffer, Deadline: 20 * time.Millisecond, PredictionResistance: true})
	f.set(fakeDown)
	require.Error(t, drain(r, 1000), "the buffer did not run dry")
	restore := install(t, r)
	defer restore()
	done := readInBackground()
	select {
	case <-done:
		require.Fail(t, "crypto/rand.Read returned with the HSM down under FailClosed")
	case <-time.After(200 * time.Millisecond):
	}
	assert.NotZero(t, r.Stats().InstalledWaits, "InstalledWaits not counted")
	f.set(fakeOK)
	select {
	case p := <-done:
		assert.False(t, allZero(p), "zero output")
	case <-time.After(10 * time.Second):
		require.Fail(t, "crypto/rand.Read still blocked after the HSM came back")
	}
}

// TestInstalledDegradeServes: under Degrade, an installed Reader serves at
// once with the HSM down.
func TestInstalledDegradeServes(t *testing.T) {
	f := newFakeSource(28)
	r := newFakeReader(t, f, Options{Policy: Degrade, HSMBuffer: MinHSMBuffer, PredictionResistance: true})
	f.set(fakeDown)
	restore := install(t, r)
	defer restore()
	for range 100 {
		select {
		case <-readInBackground():
		case <-time.After(10 * time.Second):
			require.Fail(t, "crypto/rand.Read blocked under Degrade")
		}
	}
	assert.Equal(t, StateDegraded, r.Stats().State)
}

// TestInstalledStickyFailureThenClose: after a permanent failure under
// FailClosed an installed Reader blocks for good; after Close the blocked
// read, and later ones, are served by the Reader it replaced, until
// restore.
func TestInstalledStickyFailureThenClose(t *testing.T) {
	f := newFakeSource(29)
	r := newFakeReader(t, f, Options{HSMBuffer: MinHSMBuffer, PredictionResistance: true})
	prev := rand.Reader
	restore := install(t, r)
	defer restore()
	f.set(fakeStuck)
	waitFor(t, "the permanent failure", func() bool {
		r.GetRandom(1)
		return r.Stats().State == StateFailed
	})
	done := readInBackground()
	select {
	case <-done:
		require.Fail(t, "crypto/rand.Read returned after a permanent failure under FailClosed")
	case <-time.After(250 * time.Millisecond):
	}
	r.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		require.Fail(t, "crypto/rand.Read still blocked after Close")
	}
	_, err := rand.Read(make([]byte, 32))
	require.NoError(t, err)
	restore()
	assert.True(t, rand.Reader == prev, "restore did not put crypto/rand.Reader back") // interface identity; the standard reader is no pointer
}

func TestGodebugValue(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want string
		ok   bool
	}{
		{"", "", false},
		{"cryptocustomrand=1", "1", true},
		{"x=1,cryptocustomrand=0", "0", true},
		{"cryptocustomrand=0,cryptocustomrand=1", "1", true}, // the last counts
		{"x=1, cryptocustomrand=0", "", false},               // the runtime does not trim spaces either
		{"xcryptocustomrand=1", "", false},
		{"cryptocustomrandx=1", "", false},
		{"cryptocustomrand", "", false},
	} {
		got, ok := godebugValue(tc.v, godebugCustomRand)
		assert.Equal(t, tc.want, got, "godebugValue(%q)", tc.v)
		assert.Equal(t, tc.ok, ok, "godebugValue(%q) ok", tc.v)
	}
}
