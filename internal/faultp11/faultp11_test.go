package faultp11

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/internal/softhsmtest"
	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testPIN is the user PIN of the token; TestLogHasNoPIN looks for it in the
// call log.
const testPIN = "faultp11-pin-53097"

// SoftHSM reads SOFTHSM2_CONF at C_Initialize, and the module reads
// FAULTP11_CONTROL and FAULTP11_LOG at C_GetFunctionList and C_Initialize, so
// TestMain sets all three before any test runs. One pkcs11.Ctx, initialised
// once, serves every test; each test starts and ends with no faults. The
// tests do not run in parallel with each other.
var env struct {
	err error // why SoftHSM is unusable
	tok *softhsmtest.Token
	ctl *Control
	log string
}

func TestMain(m *testing.M) {
	os.Exit(softhsmtest.Run(m, "faultp11-test-", &env.err, setup, finalize))
}

func setup(root string) error {
	env.ctl = New(root)
	env.log = filepath.Join(root, "calls.log")
	if err := os.Setenv(ControlEnv, env.ctl.Path()); err != nil {
		return err
	}
	if err := os.Setenv(LogEnv, env.log); err != nil {
		return err
	}
	d, err := softhsmtest.NewDirEnv(root)
	if err != nil {
		return err
	}
	env.tok, err = d.InitToken("faultp11", testPIN, "")
	return err
}

// p11 is the one handle on the module, opened by the first test that needs it.
var p11 struct {
	once sync.Once
	path string
	ctx  *pkcs11.Ctx
	err  error
}

func finalize() {
	if p11.ctx != nil {
		p11.ctx.Finalize()
		p11.ctx.Destroy()
	}
	if built.path != "" { // nothing in this process loads it any more
		os.RemoveAll(filepath.Dir(built.path))
	}
}

// module returns the initialised handle on libfaultp11.so with no faults
// set, and clears the control file again when the test ends.
func module(t *testing.T) *pkcs11.Ctx {
	t.Helper()
	softhsmtest.Need(t, env.err)
	path := Module(t)
	p11.once.Do(func() {
		p11.path = path
		if p11.ctx = pkcs11.New(path); p11.ctx == nil {
			p11.err = fmt.Errorf("pkcs11.New(%s) failed", path)
			return
		}
		if p11.err = p11.ctx.Initialize(); p11.err != nil {
			p11.ctx.Destroy()
			p11.ctx = nil
		}
	})
	require.NoError(t, p11.err)
	set(t)
	t.Cleanup(func() {
		assert.NoError(t, env.ctl.Clear())
	})
	return p11.ctx
}

func set(t *testing.T, lines ...string) {
	t.Helper()
	require.NoError(t, env.ctl.Set(lines...))
}

func session(t *testing.T, c *pkcs11.Ctx) pkcs11.SessionHandle {
	t.Helper()
	s, err := c.OpenSession(env.tok.Slot, pkcs11.CKF_SERIAL_SESSION)
	require.NoError(t, err, "C_OpenSession")
	t.Cleanup(func() { c.CloseSession(s) }) // may be closed already
	return s
}

func random(t *testing.T, c *pkcs11.Ctx, s pkcs11.SessionHandle, n int) []byte {
	t.Helper()
	p, err := c.GenerateRandom(s, n)
	require.NoError(t, err, "C_GenerateRandom(%d)", n)
	require.Len(t, p, n, "C_GenerateRandom(%d)", n)
	return p
}

func wantErr(t *testing.T, what string, err error, ckr uint) {
	t.Helper()
	assert.ErrorIs(t, err, pkcs11.Error(ckr), what)
}

func allZero(p []byte) bool { return !slices.ContainsFunc(p, func(b byte) bool { return b != 0 }) }

func TestBuildWarningFree(t *testing.T) {
	if _, err := build(t.TempDir(), "-Werror"); err != nil {
		softhsmtest.Unavailable(t, err)
	}
}

func TestPassThrough(t *testing.T) {
	c := module(t)
	info, err := c.GetInfo()
	assert.NoError(t, err, "C_GetInfo")
	assert.Contains(t, info.ManufacturerID, "SoftHSM", "C_GetInfo: want SoftHSM's")
	ti, err := c.GetTokenInfo(env.tok.Slot)
	assert.NoError(t, err, "C_GetTokenInfo")
	assert.Equal(t, "faultp11", ti.Label, "C_GetTokenInfo: label")
	assert.Equal(t, env.tok.Serial, ti.SerialNumber, "C_GetTokenInfo: serial")
	s := session(t, c)
	a, b := random(t, c, s, 64), random(t, c, s, 64)
	assert.False(t, allZero(a), "the first draw is zero: %x", a)
	assert.NotEqual(t, a, b, "two draws")
	assert.NoError(t, c.SeedRandom(s, []byte("seed")), "C_SeedRandom")
	// A second handle in the process gets the real module's answer.
	other := pkcs11.New(p11.path)
	require.NotNil(t, other, "second pkcs11.New failed")
	defer other.Destroy()
	wantErr(t, "second C_Initialize", other.Initialize(), pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)
}

func TestFail(t *testing.T) {
	c := module(t)
	s := session(t, c)
	set(t, Fail("C_GenerateRandom", pkcs11.CKR_DEVICE_ERROR, 3))
	for i := range 3 {
		_, err := c.GenerateRandom(s, 32)
		wantErr(t, fmt.Sprintf("call %d", i+1), err, pkcs11.CKR_DEVICE_ERROR)
	}
	random(t, c, s, 32) // the fourth call recovers
	_, err := c.GetSlotInfo(env.tok.Slot)
	assert.NoError(t, err, "C_GetSlotInfo is not named")

	// "*" counts calls to every function with one counter.
	set(t, Fail(All, pkcs11.CKR_FUNCTION_FAILED, 2))
	_, err = c.GetSlotInfo(env.tok.Slot)
	wantErr(t, "*: C_GetSlotInfo", err, pkcs11.CKR_FUNCTION_FAILED)
	_, err = c.GenerateRandom(s, 32)
	wantErr(t, "*: C_GenerateRandom", err, pkcs11.CKR_FUNCTION_FAILED)
	random(t, c, s, 32)

	// -1: every call; decimal codes; bad lines are ignored, good ones kept.
	set(t, "fail C_GetTokenInfo 48 -1", "bogus directive", "fail C_GenerateRandom notanumber 1", "delay C_Nope 5")
	for range 5 {
		_, err := c.GetTokenInfo(env.tok.Slot)
		wantErr(t, "-1: C_GetTokenInfo", err, pkcs11.CKR_DEVICE_ERROR)
	}
	random(t, c, s, 32)

	// A new version of the file starts the count again.
	set(t, Fail("C_GenerateRandom", pkcs11.CKR_DEVICE_MEMORY, 1))
	_, err = c.GenerateRandom(s, 32)
	wantErr(t, "after reload", err, pkcs11.CKR_DEVICE_MEMORY)
	set(t, Fail("C_GenerateRandom", pkcs11.CKR_DEVICE_MEMORY, 1))
	_, err = c.GenerateRandom(s, 32)
	wantErr(t, "after the same directive again", err, pkcs11.CKR_DEVICE_MEMORY)
	random(t, c, s, 32)

	// A missing file means no faults.
	set(t, Fail("C_GenerateRandom", pkcs11.CKR_DEVICE_ERROR, -1))
	_, err = c.GenerateRandom(s, 32)
	wantErr(t, "before the file is removed", err, pkcs11.CKR_DEVICE_ERROR)
	require.NoError(t, os.Remove(env.ctl.Path()))
	random(t, c, s, 32)
}

func TestRemoved(t *testing.T) {
	const gone = 2 * time.Second // long enough for the checks below on a loaded machine
	c := module(t)
	old := session(t, c)
	random(t, c, old, 32)
	// Before set: the module's clock for the removal starts when it loads
	// the directive, which may be before set returns.
	start := time.Now()
	set(t, Removed(gone))
	slots, err := c.GetSlotList(true)
	assert.NoError(t, err, "C_GetSlotList(TRUE) while removed")
	assert.Empty(t, slots, "C_GetSlotList(TRUE) while removed: want no slots")
	_, err = c.GetTokenInfo(env.tok.Slot)
	wantErr(t, "C_GetTokenInfo while removed", err, pkcs11.CKR_TOKEN_NOT_PRESENT)
	_, err = c.GenerateRandom(old, 32)
	wantErr(t, "C_GenerateRandom while removed", err, pkcs11.CKR_DEVICE_REMOVED)
	_, err = c.OpenSession(env.tok.Slot, pkcs11.CKF_SERIAL_SESSION)
	wantErr(t, "C_OpenSession while removed", err, pkcs11.CKR_DEVICE_REMOVED)
	_, err = c.GetInfo()
	assert.NoError(t, err, "C_GetInfo while removed")
	require.Less(t, time.Since(start), gone, "the checks above took longer than the removal")

	// The token comes back by itself.
	deadline := time.Now().Add(5 * time.Second)
	for {
		slots, err := c.GetSlotList(true)
		require.NoError(t, err)
		if slices.Contains(slots, env.tok.Slot) {
			break
		}
		require.False(t, time.Now().After(deadline), "the token did not come back within 5s")
		time.Sleep(10 * time.Millisecond)
	}
	assert.GreaterOrEqual(t, time.Since(start), gone, "the token came back before the removal ended")
	// The removal closed the old session (check before opening a new one:
	// SoftHSM reuses handles).
	_, err = c.GenerateRandom(old, 32)
	wantErr(t, "old session after the removal", err, pkcs11.CKR_SESSION_HANDLE_INVALID)
	random(t, c, session(t, c), 32)
}

func TestOutput(t *testing.T) {
	c := module(t)
	s := session(t, c)

	set(t, Output(OutputZero, 2))
	for i := range 2 {
		assert.Equal(t, make([]byte, 64), random(t, c, s, 64), "zero, call %d", i+1)
	}
	assert.False(t, allZero(random(t, c, s, 64)), "zero: the third call is zero too")

	set(t, Output(OutputShort, 1))
	p := random(t, c, s, 64)
	assert.False(t, allZero(p[:32]), "short: %x; want random, then 32 zero bytes", p)
	assert.Equal(t, make([]byte, 32), p[32:], "short: %x; want random, then 32 zero bytes", p)
	p = random(t, c, s, 64)
	assert.False(t, allZero(p[32:]), "short: the second call is short too: %x", p)

	set(t, Output(OutputRepeat, -1))
	first := random(t, c, s, 64)
	for _, n := range []int{64, 16, 100} {
		want := bytes.Repeat(first, 2)[:n] // longer reads repeat cyclically
		assert.Equal(t, want, random(t, c, s, n), "repeat %d", n)
	}
	set(t, Output(OutputRepeat, 2))
	first = random(t, c, s, 32)
	assert.Equal(t, first, random(t, c, s, 32), "repeat 2: second call")
	assert.NotEqual(t, first, random(t, c, s, 32), "repeat 2: the third call repeats too")
}

func TestDelay(t *testing.T) {
	const d = 50 * time.Millisecond
	c := module(t)
	s := session(t, c)
	set(t, Delay("C_GenerateRandom", d))
	start := time.Now()
	random(t, c, s, 32)
	assert.GreaterOrEqual(t, time.Since(start), d, "delayed call")

	// Pareto with xm = 100µs, alpha = 1.5: every call waits at least xm, and
	// P[delay > 4xm] = 4^-1.5 = 1/8, so 100 calls without one such delay
	// happen with probability (7/8)^100 ≈ 2e-6.
	const xm = 100 * time.Microsecond
	set(t, Pareto("C_GenerateRandom", xm, 1.5, 20*time.Millisecond))
	long := 0
	for range 100 {
		start := time.Now()
		random(t, c, s, 32)
		took := time.Since(start)
		require.GreaterOrEqual(t, took, xm, "pareto: a call took less than xm")
		if took > 4*xm {
			long++
		}
	}
	assert.Positive(t, long, "pareto: no call of 100 took longer than 4 xm")
}

func TestHang(t *testing.T) {
	c := module(t)
	s := session(t, c)
	set(t, Hang("C_GenerateRandom"))
	type result struct {
		p   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := c.GenerateRandom(s, 32)
		done <- result{p, err}
	}()
	select {
	case r := <-done:
		require.Failf(t, "C_GenerateRandom returned while hung", "%x, %v", r.p, r.err)
	case <-time.After(200 * time.Millisecond):
	}
	// Other functions are not held up, nor is the module's lock.
	_, err := c.GetInfo()
	assert.NoError(t, err, "C_GetInfo during the hang")
	require.NoError(t, env.ctl.Clear())
	select {
	case r := <-done:
		assert.NoError(t, r.err, "released call")
		assert.Len(t, r.p, 32, "released call")
		assert.False(t, allZero(r.p), "released call: %x; want 32 random bytes", r.p)
	case <-time.After(5 * time.Second):
		require.Fail(t, "C_GenerateRandom still hung 5s after Clear")
	}
}

func TestInvalidate(t *testing.T) {
	c := module(t)
	s := session(t, c)
	random(t, c, s, 32)
	set(t, Invalidate())
	_, err := c.GetInfo() // takes no session: not this one
	require.NoError(t, err)
	_, err = c.GenerateRandom(s, 32)
	wantErr(t, "C_GenerateRandom after invalidate", err, pkcs11.CKR_SESSION_HANDLE_INVALID)
	s2 := session(t, c) // once per load: new sessions work
	random(t, c, s2, 32)
	random(t, c, s2, 32)
}

func TestLogHasNoPIN(t *testing.T) {
	c := module(t)
	before, err := ReadLog(env.log)
	require.NoError(t, err)
	s := session(t, c)
	require.NoError(t, c.Login(s, pkcs11.CKU_USER, testPIN), "C_Login")
	random(t, c, s, 32)
	require.NoError(t, c.Logout(s), "C_Logout")
	calls, err := ReadLog(env.log)
	require.NoError(t, err)
	added := calls[len(before):]
	want := []Call{{"C_OpenSession", 0}, {"C_Login", 0}, {"C_GenerateRandom", 0}, {"C_Logout", 0}}
	assert.Equal(t, want, added, "log lines added")
	assert.Equal(t, Count(before, "C_Login")+1, Count(calls, "C_Login"), "Count(C_Login) after one more C_Login")
	raw, err := os.ReadFile(env.log)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), testPIN, "the call log holds the PIN")
}

// TestConcurrentReloads: readers on their own sessions while the file
// changes under them see only pass-through answers and the injected code.
func TestConcurrentReloads(t *testing.T) {
	c := module(t)
	sessions := []pkcs11.SessionHandle{session(t, c), session(t, c), session(t, c), session(t, c)}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, len(sessions))
	for _, s := range sessions {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := c.GenerateRandom(s, 256)
				if err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_DEVICE_ERROR)) {
					errs <- err
					return
				}
			}
		})
	}
	for i := range 50 {
		set(t, Fail(All, pkcs11.CKR_DEVICE_ERROR, i%5), Output(OutputRepeat, 3), Pareto("C_GenerateRandom", time.Microsecond, 2, time.Millisecond))
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err, "C_GenerateRandom during reloads")
	}

}
