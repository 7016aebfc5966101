package hsmrand

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/hsmrand/internal/p11"
	"github.com/hsmentropy/hsmentropy/internal/faultp11"
	"github.com/hsmentropy/hsmentropy/internal/softhsmtest"
	"github.com/miekg/pkcs11" // test only: a second handle that closes our sessions
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// SoftHSM reads SOFTHSM2_CONF once, at C_Initialize, and the module stays
// initialised while any Reader is open: TestMain creates one token
// directory, with every token, before any test runs. The SoftHSM tests do
// not run in parallel with each other.
var hsm struct {
	err         error // why SoftHSM is unusable
	main, spare *softhsmtest.Token
	faults      *softhsmtest.Token // used only through libfaultp11.so
	pinFile     string
	// ctl drives libfaultp11.so. The module reads FAULTP11_CONTROL at
	// C_Initialize, and the p11 layer initialises a module once per
	// process, so every test shares this one control file.
	ctl *faultp11.Control
	log string // the module's call log (FAULTP11_LOG), emptied by tests that read it
}

func TestMain(m *testing.M) {
	os.Exit(softhsmtest.Run(m, "hsmrand-softhsm-", &hsm.err, func(root string) error {
		err := setupSoftHSM(root)
		if err != nil && os.Getenv(softhsmtest.RequireEnv) != "1" {
			// An Example cannot skip itself: leave out the one that
			// needs the token, and say so.
			fmt.Fprintf(os.Stderr, "skipping ExampleOpen: %v (set %s=1 to make this a failure)\n", err, softhsmtest.RequireEnv)
			flag.Parse()
			skip := "^ExampleOpen$"
			if f := flag.Lookup("test.skip"); f.Value.String() != "" {
				skip = f.Value.String() + "|" + skip
			}
			flag.Set("test.skip", skip)
		}
		return err
	}))
}

func setupSoftHSM(root string) error {
	d, err := softhsmtest.NewDirEnv(root)
	if err != nil {
		return err
	}
	if hsm.main, err = d.InitToken("hsmrand-main", "", ""); err != nil {
		return err
	}
	if hsm.spare, err = d.InitToken("hsmrand-spare", "", ""); err != nil {
		return err
	}
	if hsm.faults, err = d.InitToken("hsmrand-faults", "", ""); err != nil {
		return err
	}
	hsm.ctl = faultp11.New(root)
	if err := os.Setenv(faultp11.ControlEnv, hsm.ctl.Path()); err != nil {
		return err
	}
	hsm.log = filepath.Join(root, "faultp11-calls.log")
	if err := os.Setenv(faultp11.LogEnv, hsm.log); err != nil {
		return err
	}
	hsm.pinFile = filepath.Join(root, "main.pin")
	if err := os.WriteFile(hsm.pinFile, []byte(hsm.main.PIN+"\n"), 0o600); err != nil {
		return err
	}
	// ExampleOpen opens the token HSMRAND_URI names.
	return os.Setenv(EnvURI, fmt.Sprintf("pkcs11:token=%s?module-path=%s&pin-source=file:%s", hsm.main.Label, hsm.main.Module, hsm.pinFile))
}

// needSoftHSM skips, or fails when HSMENTROPY_REQUIRE_SOFTHSM=1, without
// SoftHSM.
func needSoftHSM(tb testing.TB) {
	tb.Helper()
	softhsmtest.Need(tb, hsm.err)
}

// openSoftHSM opens a Reader on the main token, closed at the end of the
// test.
func openSoftHSM(tb testing.TB, opts Options) *Reader {
	tb.Helper()
	needSoftHSM(tb)
	r, err := Open(tb.Context(), Config{ModulePath: hsm.main.Module, TokenLabel: hsm.main.Label, PIN: []byte(hsm.main.PIN), Options: opts})
	require.NoError(tb, err)
	tb.Cleanup(func() { assert.NoError(tb, r.Close()) })
	return r
}

// mustServe reads through r and checks that the token was used.
func mustServe(t *testing.T, r *Reader) {
	t.Helper()
	p := make([]byte, 1000)
	_, err := r.Read(p)
	require.NoError(t, err)
	_, err = r.GetRandom(64)
	require.NoError(t, err)
	st := r.Stats()
	assert.Equal(t, StateHealthy, st.State, "stats %+v", st)
	assert.NotZero(t, st.HSMCalls, "HSM calls; stats %+v", st)
	assert.NotZero(t, st.HSMBytes, "HSM bytes; stats %+v", st)
	assert.NotZero(t, st.HSMUsed, "HSM bytes used; stats %+v", st)
}

func TestSoftHSMOpenByURI(t *testing.T) {
	needSoftHSM(t)
	for name, uri := range map[string]string{
		"pin-source":  fmt.Sprintf("pkcs11:token=%s?module-path=%s&pin-source=file:%s", hsm.main.Label, hsm.main.Module, hsm.pinFile),
		"pin-value":   fmt.Sprintf("pkcs11:token=%s;serial=%s?module-path=%s&pin-value=%s", hsm.main.Label, hsm.main.Serial, hsm.main.Module, hsm.main.PIN),
		"no login":    fmt.Sprintf("pkcs11:serial=%s?module-path=%s", hsm.main.Serial, hsm.main.Module),
		"with spares": fmt.Sprintf("pkcs11:token=%s?module-path=%s", hsm.main.Label, hsm.main.Module),
	} {
		t.Run(name, func(t *testing.T) {
			cfg := Config{URI: uri}
			if name == "with spares" {
				cfg.FailoverURIs = []string{fmt.Sprintf("pkcs11:token=%s?module-path=%s", hsm.spare.Label, hsm.spare.Module)}
			}
			r, err := Open(t.Context(), cfg)
			require.NoError(t, err)
			defer r.Close()
			mustServe(t, r)
		})
	}
}

func TestSoftHSMOpenByFields(t *testing.T) {
	needSoftHSM(t)
	slot := hsm.main.Slot
	for name, cfg := range map[string]Config{
		"label":  {ModulePath: hsm.main.Module, TokenLabel: hsm.main.Label, PIN: []byte(hsm.main.PIN)},
		"serial": {ModulePath: hsm.main.Module, Serial: hsm.main.Serial, PINSource: "file:" + hsm.pinFile},
		"slot":   {ModulePath: hsm.main.Module, SlotID: &slot},
	} {
		t.Run(name, func(t *testing.T) {
			pin := string(cfg.PIN)
			r, err := Open(t.Context(), cfg)
			require.NoError(t, err)
			defer r.Close()
			mustServe(t, r)
			assert.Equal(t, pin, string(cfg.PIN), "Open changed the caller's PIN")
		})
	}
}

func TestSoftHSMOpenByVaultEnv(t *testing.T) {
	needSoftHSM(t)
	t.Setenv(EnvURI, "")
	t.Setenv(p11.VaultEnvLib, hsm.main.Module)
	t.Setenv(p11.VaultEnvTokenLabel, hsm.main.Label)
	t.Setenv(p11.VaultEnvPIN, hsm.main.PIN)
	t.Setenv(EnvPolicy, "degrade")
	cfg, err := ConfigFromEnv(os.Getenv)
	require.NoError(t, err)
	assert.Equal(t, Degrade, cfg.Policy)
	r, err := Open(t.Context(), cfg)
	require.NoError(t, err)
	defer r.Close()
	mustServe(t, r)
}

// TestSoftHSMOpenErrors: each misconfiguration is a clear error from Open,
// naming the cause and what to do, never the PIN. A wrong PIN is presented
// once (the p11 layer counts its C_Login calls); at this level the token is
// not locked by it: the right PIN works straight after.
func TestSoftHSMOpenErrors(t *testing.T) {
	needSoftHSM(t)
	const wrongPIN = "not-the-pin-31337"
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"wrong PIN", Config{ModulePath: hsm.main.Module, TokenLabel: hsm.main.Label, PIN: []byte(wrongPIN)},
			[]string{"C_Login", "CKR_PIN_INCORRECT"}},
		{"wrong PIN in URI", Config{URI: fmt.Sprintf("pkcs11:token=%s?module-path=%s&pin-value=%s", hsm.main.Label, hsm.main.Module, wrongPIN)},
			[]string{"C_Login", "CKR_PIN_INCORRECT"}},
		{"wrong label", Config{ModulePath: hsm.main.Module, TokenLabel: "no-such-token"},
			[]string{"token not found", `"no-such-token"`}},
		{"missing module", Config{URI: "pkcs11:token=x?module-path=/nonexistent/libpkcs11.so"},
			[]string{"/nonexistent/libpkcs11.so", "does not exist"}},
		{"bad URI", Config{URI: "pkcs12:token=x"},
			[]string{"pkcs11:"}},
		{"no token", Config{}, []string{"selects no token"}},
		{"two ways", Config{URI: "pkcs11:token=x", TokenLabel: "x"}, []string{"exactly one way"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Open(t.Context(), tc.cfg)
			if err == nil {
				r.Close()
			}
			require.Error(t, err, "Open succeeded")
			msg := err.Error()
			assert.True(t, strings.HasPrefix(msg, "hsmrand: "), "error %q: want an hsmrand error", msg)
			assert.NotContains(t, msg, wrongPIN, "the error shows the PIN")
			for _, w := range tc.want {
				assert.Contains(t, msg, w)
			}
			t.Log(msg)
		})
	}
	r := openSoftHSM(t, Options{})
	mustServe(t, r)
}

// TestOpenTokenWithoutRNG: SoftHSM tokens always advertise CKF_RNG, so the
// p11 layer proves its check with a fake module; here a fake opener gives
// Open the p11 layer's error, which Open must return, clearly, and which
// must end the stream for good if it ever comes from the refiller.
func TestOpenTokenWithoutRNG(t *testing.T) {
	noRNG := fmt.Errorf(`%w: token "norng" (serial N1) does not set CKF_RNG; use a token with a random number generator`, p11.ErrNoRNG)
	_, err := open(t.Context(), &Config{TokenLabel: "norng"}, func(context.Context, []p11.Config) (source, error) { return nil, noRNG })
	if assert.ErrorIs(t, err, p11.ErrNoRNG, "Open") {
		assert.True(t, strings.HasPrefix(err.Error(), "hsmrand: open: "), "Open: %v; want the prefix hsmrand: open: ", err)
		assert.Contains(t, err.Error(), "CKF_RNG", "Open")
	}
	assert.True(t, permanent(noRNG), "permanent() misclassifies ErrNoRNG")
	assert.True(t, permanent(fmt.Errorf("x: %w", p11.ErrLoginFatal)), "permanent() misclassifies ErrLoginFatal")
	assert.False(t, permanent(p11.ErrTokenDown), "permanent() misclassifies ErrTokenDown")
}

// TestConfigNeverPrintsPIN: no fmt verb prints a PIN, from the field or
// from a URI's pin-value.
func TestConfigNeverPrintsPIN(t *testing.T) {
	const pin = "s3cr3t-PIN"
	for _, c := range []Config{
		{ModulePath: "/lib.so", TokenLabel: "t", PIN: []byte(pin)},
		{URI: "pkcs11:token=t?module-path=/lib.so&pin-value=" + pin},
		{URI: "pkcs11:token=t?module-path=/lib.so", FailoverURIs: []string{"pkcs11:token=u?pin-value=" + pin}},
	} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			s := fmt.Sprintf(verb, c)
			assert.NotContains(t, s, pin, "%s printed the PIN", verb)
			assert.NotContains(t, s, fmt.Sprintf("%x", pin), "%s printed the PIN in hex", verb)
		}
		assert.NotContains(t, fmt.Sprintf("%v", &c), pin, "%v of *Config printed the PIN")
	}
}

// TestSoftHSMSessionsClosedUnderReader: another handle on the module calls
// C_CloseAllSessions, closing the Reader's sessions and logging it out,
// again and again while reads that need fresh HSM bytes go on. No read
// fails: the p11 layer reopens and logs in again, and reads are served from
// the buffer meanwhile.
func TestSoftHSMSessionsClosedUnderReader(t *testing.T) {
	r := openSoftHSM(t, Options{HSMBuffer: MinHSMBuffer})
	other := pkcs11.New(hsm.main.Module)
	require.NotNil(t, other, "pkcs11.New failed")
	t.Cleanup(other.Destroy) // no C_Finalize: the module belongs to the Reader
	require.ErrorIs(t, other.Initialize(), pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED), "second C_Initialize")
	calls := r.Stats().HSMCalls
	for range 30 {
		require.NoError(t, other.CloseAllSessions(hsm.main.Slot))
		// Each GetRandom takes 48 HSM bytes: 100 of them make the
		// refiller call the token about four times.
		require.NoError(t, drain(r, 100), "read after C_CloseAllSessions")
	}
	st := r.Stats()
	require.Len(t, st.Tokens, 1, "Stats.Tokens")
	tok := st.Tokens[0]
	assert.Equal(t, hsm.main.Label, tok.Label, "token stats %+v", tok)
	assert.Equal(t, hsm.main.Serial, tok.Serial, "token stats %+v", tok)
	assert.Equal(t, "up", tok.State, "token stats %+v", tok)
	assert.NotZero(t, tok.Calls, "token stats %+v", tok)
	assert.GreaterOrEqual(t, tok.Calls, st.HSMCalls, "token stats %+v: want at least the Reader's C_GenerateRandom calls", tok)
	assert.NotZero(t, tok.Errors["CKR_SESSION_HANDLE_INVALID"]+tok.Errors["CKR_SESSION_CLOSED"], "token errors %v; want the closed sessions counted by return code", tok.Errors)
	assert.GreaterOrEqual(t, st.HSMCalls-calls, uint64(30), "HSM calls")
	assert.NotZero(t, tok.Reopens, "reopens")
	assert.Equal(t, StateHealthy, st.State)
	assert.Zero(t, st.ReadErrors, "read errors")
	t.Logf("HSM calls %d (errors %d), session reopens %d, logins %d", st.HSMCalls-calls, st.HSMErrors, tok.Reopens, tok.Logins)
}

// TestSoftHSMCloseWhileRefilling: Close while reads keep the refiller busy
// with the token: reads in progress end with ErrClosed, and the buffer is
// wiped.
func TestSoftHSMCloseWhileRefilling(t *testing.T) {
	r := openSoftHSM(t, Options{HSMBuffer: MinHSMBuffer, Deadline: time.Second})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, err := r.GetRandom(32); err != nil {
				assert.ErrorIs(t, err, ErrClosed, "GetRandom during Close") // not require: not the test's goroutine
				return
			}
		}
	}()
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, r.Close())
	<-done
	assert.Zero(t, r.pool.ring.Len(), "HSM bytes left after Close")
	assert.True(t, r.pool.ring.Zeroed(), "HSM bytes left after Close")

}
