package p11

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hsmentropy/hsmentropy/internal/faultp11"
	"github.com/hsmentropy/hsmentropy/internal/softhsmtest"
	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// SoftHSM reads SOFTHSM2_CONF at C_Initialize, once per process (the
// registry never finalises a module), so every test below sees the same
// token directory: TestMain creates it, with every token, before any
// test runs. These tests do not run in parallel with each other.
var hsm struct {
	err                   error // why SoftHSM is unusable
	alpha, beta, wrongPIN *softhsmtest.Token
	// ctl and log drive libfaultp11.so, which reads their names at its one
	// C_Initialize in this process: every test shares them.
	ctl *faultp11.Control
	log string
}

func TestMain(m *testing.M) {
	os.Exit(softhsmtest.Run(m, "p11-softhsm-", &hsm.err, setupSoftHSM))
}

func setupSoftHSM(root string) error {
	d, err := softhsmtest.NewDirEnv(root)
	if err != nil {
		return err
	}
	if hsm.alpha, err = d.InitToken("alpha", "", ""); err != nil {
		return err
	}
	if hsm.beta, err = d.InitToken("beta", "", ""); err != nil {
		return err
	}
	if hsm.wrongPIN, err = d.InitToken("wrong-pin", "", ""); err != nil {
		return err
	}
	hsm.ctl = faultp11.New(root)
	hsm.log = filepath.Join(root, "faultp11-calls.log")
	if err := os.Setenv(faultp11.ControlEnv, hsm.ctl.Path()); err != nil {
		return err
	}
	return os.Setenv(faultp11.LogEnv, hsm.log)
}

func needSoftHSM(t *testing.T) {
	t.Helper()
	softhsmtest.Need(t, hsm.err)
}

func mustRead(t *testing.T, tok *Token, n int) {
	t.Helper()
	p := make([]byte, n)
	require.NoError(t, tok.GenerateRandom(t.Context(), p), "GenerateRandom(%d)", n)
	if n >= minDraw {
		_, err := checkBlock(p, n)
		require.NoError(t, err, "GenerateRandom(%d) output", n)
	}
}

func TestSoftHSMOpenByURI(t *testing.T) {
	needSoftHSM(t)
	pinFile := filepath.Join(t.TempDir(), "pin")
	require.NoError(t, os.WriteFile(pinFile, []byte(hsm.alpha.PIN+"\n"), 0o600))
	u, err := ParseURI("pkcs11:token=alpha;serial=" + hsm.alpha.Serial + "?module-path=" + hsm.alpha.Module + "&pin-source=file:" + pinFile)
	require.NoError(t, err)
	cfg, err := u.Config()
	require.NoError(t, err)
	tok, err := Open(t.Context(), cfg)
	require.NoError(t, err)
	defer tok.Close()
	mustRead(t, tok, MaxChunk+100) // two calls
	st := tok.Stats()
	assert.Equal(t, "alpha", st.Label)
	assert.Equal(t, hsm.alpha.Serial, st.Serial)
	assert.Equal(t, hsm.alpha.Slot, st.Slot)
	assert.Equal(t, uint64(2), st.Calls)
	assert.Equal(t, uint64(1), st.Logins)
	assert.Equal(t, StateUp, st.State)
}

func TestSoftHSMOpenByFields(t *testing.T) {
	needSoftHSM(t)
	slot := hsm.beta.Slot
	for _, cfg := range []Config{
		{ModulePath: hsm.beta.Module, Serial: hsm.beta.Serial},                                 // no login
		{ModulePath: hsm.beta.Module, SlotID: &slot, PIN: []byte(hsm.beta.PIN)},                // by slot, logged in
		{ModulePath: hsm.beta.Module, TokenLabel: "beta", Model: "SoftHSM v2"},                 // label and model
		{ModulePath: hsm.beta.Module, TokenLabel: "beta", LibraryVersion: "2"},                 // library version
		{ModulePath: hsm.beta.Module, TokenLabel: "beta", SlotManufacturer: "SoftHSM project"}, // slot info
	} {
		tok, err := Open(t.Context(), cfg)
		require.NoError(t, err, "Open(%v)", cfg)
		mustRead(t, tok, 32)
		assert.Equal(t, hsm.beta.Serial, tok.Stats().Serial, "Open(%v) chose the wrong token", cfg)
		assert.NoError(t, tok.Close())
	}
}

func TestSoftHSMOpenByVaultEnv(t *testing.T) {
	needSoftHSM(t)
	env := map[string]string{
		VaultEnvLib:        hsm.alpha.Module,
		VaultEnvSlot:       strconv.FormatUint(uint64(hsm.alpha.Slot), 10),
		VaultEnvTokenLabel: "alpha",
		VaultEnvPIN:        hsm.alpha.PIN,
	}
	cfg, err := ConfigFromVaultEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	tok, err := Open(t.Context(), cfg)
	require.NoError(t, err)
	defer tok.Close()
	mustRead(t, tok, 1000)
	st := tok.Stats()
	assert.Equal(t, hsm.alpha.Serial, st.Serial)
	assert.Equal(t, uint64(1), st.Logins)
}

// countingModule counts C_Login calls on their way to the real module.
type countingModule struct {
	module
	logins atomic.Int64
}

func (c *countingModule) Login(h pkcs11.SessionHandle, userType uint, pin string) error {
	c.logins.Add(1)
	return c.module.Login(h, userType, pin)
}

// TestSoftHSMWrongPINTriedOnce proves the wrong PIN reaches C_Login exactly
// once: a counting wrapper sits between the Token and the real SoftHSM
// module (the module interface is the seam), and SoftHSM itself answers
// CKR_PIN_INCORRECT.
func TestSoftHSMWrongPINTriedOnce(t *testing.T) {
	needSoftHSM(t)
	const wrong = "not-the-pin-0000"
	ctx, release, err := modules.acquire(hsm.wrongPIN.Module)
	require.NoError(t, err)
	counter := &countingModule{module: ctx}
	cfg := Config{ModulePath: hsm.wrongPIN.Module, TokenLabel: "wrong-pin", PIN: []byte(wrong)}
	_, err = newToken(t.Context(), cfg, counter, release, []byte(wrong), false)
	require.ErrorIs(t, err, ErrLoginFatal)
	require.ErrorIs(t, err, pkcs11.Error(pkcs11.CKR_PIN_INCORRECT))
	assert.Equal(t, int64(1), counter.logins.Load(), "C_Login calls")
	assert.ErrorContains(t, err, "C_Login: CKR_PIN_INCORRECT")
	assert.ErrorContains(t, err, "not retrying")
	assert.NotContains(t, err.Error(), wrong, "the error holds the PIN")

	// Through the public path, in a Pool too: one refusal, no retry.
	_, err = Open(t.Context(), cfg)
	assert.ErrorIs(t, err, ErrLoginFatal, "Open")
	_, err = OpenPool(t.Context(), cfg)
	assert.ErrorIs(t, err, ErrLoginFatal, "OpenPool")
	// The token is not locked: the right PIN still works.
	good := cfg
	good.PIN = []byte(hsm.wrongPIN.PIN)
	tok, err := Open(t.Context(), good)
	require.NoError(t, err, "right PIN after the wrong one")
	mustRead(t, tok, 32)
	// SoftHSM sets CKF_USER_PIN_COUNT_LOW after a failed login; the token
	// reports it.
	assert.True(t, tok.Stats().PINCountLow, "CKF_USER_PIN_COUNT_LOW after a wrong PIN is not reported")
	tok.Close()
}

// TestSoftHSMPINTooLong: a PIN longer than SoftHSM's ulMaxPinLen (255) is
// refused before C_Login, which is never called with it.
func TestSoftHSMPINTooLong(t *testing.T) {
	needSoftHSM(t)
	ctx, release, err := modules.acquire(hsm.alpha.Module)
	require.NoError(t, err)
	counter := &countingModule{module: ctx}
	long := bytes.Repeat([]byte("p"), 300)
	cfg := Config{ModulePath: hsm.alpha.Module, TokenLabel: "alpha", PIN: long}
	_, err = newToken(t.Context(), cfg, counter, release, bytes.Clone(long), false)
	require.ErrorIs(t, err, ErrLoginFatal)
	assert.ErrorContains(t, err, "ulMaxPinLen 255")
	assert.NotContains(t, err.Error(), "ppp")
	assert.Zero(t, counter.logins.Load(), "C_Login called with a PIN the token cannot take")
}

func TestSoftHSMWrongLabel(t *testing.T) {
	needSoftHSM(t)
	_, err := Open(t.Context(), Config{ModulePath: hsm.alpha.Module, TokenLabel: "no-such-token"})
	require.ErrorIs(t, err, ErrTokenNotFound)
	for _, want := range []string{`token="no-such-token"`, `token "alpha"`, `token "beta"`, "check the label"} {
		assert.ErrorContains(t, err, want)
	}
	// Two tokens match "any token": that is refused, not a guess.
	_, err = Open(t.Context(), Config{ModulePath: hsm.alpha.Module})
	assert.ErrorContains(t, err, "tokens match", "no selection with three tokens")
}

func TestSoftHSMMissingModule(t *testing.T) {
	needSoftHSM(t)
	_, err := Open(t.Context(), Config{ModulePath: "/nonexistent/libpkcs11.so", TokenLabel: "alpha"})
	assert.ErrorIs(t, err, ErrModule, "missing file")
	assert.ErrorContains(t, err, "does not exist", "missing file")
	// A shared library that is not a PKCS#11 module.
	notP11 := filepath.Join(t.TempDir(), "libnot.so")
	require.NoError(t, os.WriteFile(notP11, []byte("not an ELF file"), 0o600))
	_, err = Open(t.Context(), Config{ModulePath: notP11})
	assert.ErrorIs(t, err, ErrModule, "not a module")
	assert.ErrorContains(t, err, "cannot be loaded", "not a module")
}

// TestSoftHSMSessionsClosedUnderReader: another handle on the same module
// calls C_CloseAllSessions, which closes the Token's sessions and logs it
// out. Reads go on: the session is reopened, the login redone, the call
// retried.
func TestSoftHSMSessionsClosedUnderReader(t *testing.T) {
	needSoftHSM(t)
	tok, err := Open(t.Context(), Config{ModulePath: hsm.alpha.Module, TokenLabel: "alpha", PIN: []byte(hsm.alpha.PIN), TokenOptions: TokenOptions{MaxSessions: 3}})
	require.NoError(t, err)
	defer tok.Close()
	other := otherHandle(t, hsm.alpha.Module)
	mustRead(t, tok, 64)
	require.NoError(t, other.CloseAllSessions(hsm.alpha.Slot))
	mustRead(t, tok, 64)
	st := tok.Stats()
	assert.Equal(t, uint64(1), st.Reopens)
	assert.Equal(t, uint64(2), st.Logins)
	assert.Equal(t, StateUp, st.State)

	// The same while readers are busy. A read whose one retry is hit by the
	// next close fails with the session error; nothing else fails, the token
	// stays up, and the reads right after each close work.
	var wg sync.WaitGroup
	var failed atomic.Int64
	stop := make(chan struct{})
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := tok.GenerateRandom(t.Context(), make([]byte, 256))
				switch {
				case err == nil:
				case errors.Is(err, pkcs11.Error(pkcs11.CKR_SESSION_HANDLE_INVALID)), errors.Is(err, pkcs11.Error(pkcs11.CKR_SESSION_CLOSED)):
					failed.Add(1) // closed again during its one retry
				default:
					assert.NoError(t, err, "read during closes") // not require: another goroutine
				}
			}
		})
	}
	for range 20 {
		assert.NoError(t, other.CloseAllSessions(hsm.alpha.Slot))
		mustRead(t, tok, 32)
	}
	close(stop)
	wg.Wait()
	mustRead(t, tok, 32)
	st = tok.Stats()
	assert.Equal(t, StateUp, st.State, "after 21 closes")
	assert.GreaterOrEqual(t, st.Reopens, uint64(2), "reopens after 21 closes")
	t.Logf("reads that failed while another handle closed all sessions: %d", failed.Load())
}

// otherHandle opens the module as other code in the process would: its
// C_Initialize must answer CKR_CRYPTOKI_ALREADY_INITIALIZED, and it must not
// finalise.
func otherHandle(t *testing.T, path string) *pkcs11.Ctx {
	t.Helper()
	c := pkcs11.New(path)
	require.NotNil(t, c, "pkcs11.New failed")
	require.ErrorIs(t, c.Initialize(), pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED), "second C_Initialize")
	t.Cleanup(c.Destroy)
	return c
}

// TestSoftHSMOtherUserKeepsModule: another user of the module in the
// process (here a second miekg/pkcs11 handle, which gets
// CKR_CRYPTOKI_ALREADY_INITIALIZED) goes on working across the Close of
// every Token: the package never finalises a module on Close.
func TestSoftHSMOtherUserKeepsModule(t *testing.T) {
	needSoftHSM(t)
	tok, err := Open(t.Context(), Config{ModulePath: hsm.alpha.Module, TokenLabel: "alpha"})
	require.NoError(t, err)
	other := pkcs11.New(hsm.alpha.Module)
	require.NotNil(t, other, "pkcs11.New")
	t.Cleanup(other.Destroy)
	err = other.Initialize()
	require.ErrorIs(t, err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED))
	slots, err := other.GetSlotList(true)
	require.NoError(t, err)
	require.NotEmpty(t, slots)
	sh, err := other.OpenSession(slots[0], pkcs11.CKF_SERIAL_SESSION)
	require.NoError(t, err)
	mustRead(t, tok, 32)

	require.NoError(t, tok.Close())
	_, err = other.GetSlotList(true)
	assert.NoError(t, err, "the other user's module after our last Close (we finalised it)")
	_, err = other.GenerateRandom(sh, 32)
	assert.NoError(t, err, "the other user's session after our last Close")
	assert.NoError(t, other.CloseSession(sh))

	// A later Open reuses the module, still initialised.
	again, err := Open(t.Context(), Config{ModulePath: hsm.alpha.Module, TokenLabel: "alpha"})
	require.NoError(t, err)
	mustRead(t, again, 32)
	require.NoError(t, again.Close())
}

// TestSoftHSMSharedModuleRefcount: two Tokens share one module; closing one
// leaves the other working, and closing both leaves the module loaded.
func TestSoftHSMSharedModuleRefcount(t *testing.T) {
	needSoftHSM(t)
	a, err := Open(t.Context(), Config{ModulePath: hsm.alpha.Module, TokenLabel: "alpha"})
	require.NoError(t, err)
	b, err := Open(t.Context(), Config{ModulePath: hsm.beta.Module, TokenLabel: "beta", PIN: []byte(hsm.beta.PIN)})
	require.NoError(t, err)
	require.NoError(t, a.Close())
	mustRead(t, b, 32)
	require.NoError(t, b.Close())
	key, err := filepath.EvalSymlinks(hsm.alpha.Module)
	require.NoError(t, err)
	modules.mu.Lock()
	defer modules.mu.Unlock()
	l := modules.modules[key]
	require.NotNil(t, l, "the module stays loaded after the last Close")
	assert.Equal(t, 0, l.refs, "no Token holds the module")
}

func TestSoftHSMPool(t *testing.T) {
	needSoftHSM(t)
	pool, err := OpenPool(t.Context(),
		Config{ModulePath: hsm.alpha.Module, TokenLabel: "alpha"},
		Config{ModulePath: hsm.beta.Module, TokenLabel: "beta"},
		Config{ModulePath: hsm.beta.Module, TokenLabel: "gamma-not-there"}, // starts down
	)
	require.NoError(t, err)
	defer pool.Close()
	for range 10 {
		require.NoError(t, pool.GenerateRandom(t.Context(), make([]byte, 64)))
	}
	st := pool.Stats()
	assert.NotZero(t, st[0].Calls, "the first token is used")
	assert.NotZero(t, st[1].Calls, "the second token is used")
	assert.Equal(t, uint64(10), st[0].Calls+st[1].Calls, "calls in all")
	assert.Equal(t, StateDown, st[2].State, "the missing token")
	assert.NoError(t, pool.SeedRandom(t.Context(), []byte("seed material")), "SeedRandom")
}

// BenchmarkSoftHSMGenerateRandom measures one call through the whole
// Token path (semaphore, session pool, checks, wiping) on SoftHSM.
func BenchmarkSoftHSMGenerateRandom(b *testing.B) {
	softhsmtest.Need(b, hsm.err)
	tok, err := Open(b.Context(), Config{ModulePath: hsm.alpha.Module, TokenLabel: "alpha"})
	require.NoError(b, err)
	defer tok.Close()
	for _, n := range []int{32, MaxChunk} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			p := make([]byte, n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				if err := tok.GenerateRandom(b.Context(), p); err != nil {
					require.NoError(b, err) // checked first: no allocation in the loop
				}
			}
		})
	}
}
