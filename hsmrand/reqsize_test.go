package hsmrand

import (
	"context"
	"errors"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/hsmrand/internal/p11"
	"github.com/hsmentropy/hsmentropy/internal/faultp11"
	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMaxRequestConfig(t *testing.T) {
	// Config.MaxRequest reaches every token whose URI does not set its own.
	c := Config{
		URI:          "pkcs11:token=a?module-path=/x.so",
		FailoverURIs: []string{"pkcs11:token=b?module-path=/x.so&x-max-request=1024"},
		TokenOptions: TokenOptions{MaxRequest: 4096},
	}
	cfgs, err := c.p11Configs()
	require.NoError(t, err)
	require.Len(t, cfgs, 2)
	assert.Equal(t, 4096, cfgs[0].MaxRequest)
	assert.Equal(t, 1024, cfgs[1].MaxRequest)

	cfgs, err = (&Config{ModulePath: "/x.so", TokenLabel: "a", TokenOptions: TokenOptions{MaxRequest: 512}}).p11Configs()
	require.NoError(t, err)
	assert.Equal(t, 512, cfgs[0].MaxRequest)

	// The token layer refuses a limit below the floor, naming it.
	for _, n := range []int{MinHSMRequest - 1, MaxHSMRequest + 1} {
		_, err := Open(t.Context(), Config{ModulePath: "/nonexistent/x.so", TokenLabel: "a", TokenOptions: TokenOptions{MaxRequest: n}})
		assert.ErrorContains(t, err, "MaxRequest (x-max-request)")
	}
}

func TestMaxRequestFromEnv(t *testing.T) {
	env := map[string]string{EnvURI: "pkcs11:token=a?module-path=/x.so", EnvMaxRequest: "2048"}
	c, err := ConfigFromEnv(func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, 2048, c.MaxRequest)
	for _, v := range []string{"31", "65537", "4k", "-64"} {
		env[EnvMaxRequest] = v
		_, err := ConfigFromEnv(func(k string) string { return env[k] })
		assert.ErrorContains(t, err, EnvMaxRequest, "value %q", v)
	}
}

// openCapped opens a Reader on the faults token through the fault module,
// which refuses C_GenerateRandom requests over limit bytes, from the first
// call on. It returns the Reader and the path of the module's call log.
func openCapped(t *testing.T, limit int, cfg Config) (*Reader, string, error) {
	t.Helper()
	needSoftHSM(t)
	module := faultp11.Module(t)
	ctl := hsm.ctl // the module reads its control file's name once: see TestMain
	require.NoError(t, ctl.Set(faultp11.MaxRandom(limit, 0)))
	t.Cleanup(func() { ctl.Clear() })
	log := hsm.log
	require.NoError(t, truncate(log))
	cfg.ModulePath, cfg.TokenLabel, cfg.PIN = module, hsm.faults.Label, []byte(hsm.faults.PIN)
	r, err := Open(t.Context(), cfg)
	if err == nil {
		t.Cleanup(func() { assert.NoError(t, r.Close()) })
	}
	return r, log, err
}

// TestFaultRequestLimit: behind a module that carries at most 4 KiB per
// call, the Reader opens, serves Read and GetRandom, and reports the
// learned limit; every HSM byte came from a call of at most 4 KiB.
func TestFaultRequestLimit(t *testing.T) {
	r, log, err := openCapped(t, 4096, Config{})
	require.NoError(t, err)
	mustServe(t, r)
	// Use up more than the buffer, so that the refiller draws again.
	for range 2 * DefaultHSMBuffer / 48 {
		_, err := r.GetRandom(32)
		require.NoError(t, err)
	}
	// One refill is many 4 KiB calls: let it end, so that Stats and the
	// module's log count the same calls.
	settled(t, r)
	st := r.Stats()
	assert.Equal(t, StateHealthy, st.State)
	assert.Zero(t, st.HSMErrors, "a refused size is not a failed request")
	require.Len(t, st.Tokens, 1)
	tok := st.Tokens[0]
	assert.Equal(t, 4096, tok.MaxRequest)
	assert.Equal(t, "up", tok.State)
	assert.Equal(t, map[string]uint64{"CKR_DATA_LEN_RANGE": 4}, tok.Errors, "64, 32, 16 and 8 KiB refused once")
	assert.GreaterOrEqual(t, tok.Bytes, st.HSMBytes)
	assert.Greater(t, st.HSMBytes, uint64(DefaultHSMBuffer), "the refiller drew again")

	calls, err := faultp11.ReadLog(log)
	require.NoError(t, err)
	var ok, refused uint64
	for _, c := range calls {
		switch {
		case c.Func != "C_GenerateRandom":
		case c.RV == pkcs11.CKR_OK:
			ok++
		case c.RV == pkcs11.CKR_DATA_LEN_RANGE:
			refused++
		default:
			assert.Failf(t, "unexpected return value", "C_GenerateRandom answered %#x", c.RV)
		}
	}
	assert.Equal(t, uint64(4), refused)
	// The refiller is idle; a liveness probe (one call) may come between
	// the snapshot and the log.
	assert.InDelta(t, tok.Calls, ok+refused, 1)
	assert.GreaterOrEqual(t, ok*4096, tok.Bytes, "a call returned more than 4 KiB")
}

// TestFaultRequestLimitConfigured: a limit set below the module's cap
// spares the refusals.
func TestFaultRequestLimitConfigured(t *testing.T) {
	r, log, err := openCapped(t, 4096, Config{TokenOptions: TokenOptions{MaxRequest: 2048}})
	require.NoError(t, err)
	mustServe(t, r)
	tok := r.Stats().Tokens[0]
	assert.Equal(t, 2048, tok.MaxRequest)
	assert.Empty(t, tok.Errors)
	calls, err := faultp11.ReadLog(log)
	require.NoError(t, err)
	for _, c := range calls {
		if c.Func == "C_Login" && c.RV == pkcs11.CKR_USER_ALREADY_LOGGED_IN {
			// SoftHSM keeps the token logged in while any session of the
			// process is open, such as one the p11 layer dropped after an
			// earlier test's injected device error; p11 takes it as success.
			continue
		}
		assert.Equal(t, uint(pkcs11.CKR_OK), c.RV, "%s", c.Func)
	}
}

// TestFaultRequestLimitBelowFloor: a module that refuses even the
// smallest request: Open fails (FailClosed), and the error says why.
func TestFaultRequestLimitBelowFloor(t *testing.T) {
	_, _, err := openCapped(t, MinHSMRequest-1, Config{Options: Options{Deadline: 500 * time.Millisecond}})
	require.Error(t, err)
	assert.ErrorContains(t, err, "refused a request of 32 bytes, the smallest this package makes")
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
	var pe *p11.Error
	if assert.ErrorAs(t, err, &pe) {
		assert.Equal(t, uint(pkcs11.CKR_DATA_LEN_RANGE), pe.Code)
	}
}

// truncate empties the fault module's call log, which it appends to.
func truncate(path string) error {
	if err := os.Truncate(path, 0); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// TestTokenOptionsDoc: TokenOptions' doc comment (config.go) spells out
// the token layer's struct, whose fields a user of hsmrand cannot look up;
// a field added there must be added to it.
func TestTokenOptionsDoc(t *testing.T) {
	var names []string
	typ := reflect.TypeFor[TokenOptions]()
	for i := range typ.NumField() {
		names = append(names, typ.Field(i).Name)
	}
	assert.Equal(t, []string{"MaxSessions", "BackoffMin", "BackoffMax", "NoReinitialize", "MaxRequest"}, names,
		"p11.TokenOptions changed: update the struct shown in hsmrand.TokenOptions' doc comment and this list")
}
