package p11

import (
	"errors"
	"os"
	"testing"

	"github.com/hsmentropy/hsmentropy/internal/faultp11"
	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openCapped opens the alpha token through the fault module, which refuses
// C_GenerateRandom requests over limit bytes with rv, and returns the
// token and the path of the module's call log.
func openCapped(t *testing.T, limit int, rv uint, uri string) (*Token, string) {
	t.Helper()
	needSoftHSM(t)
	module := faultp11.Module(t)
	require.NoError(t, hsm.ctl.Set(faultp11.MaxRandom(limit, rv)))
	t.Cleanup(func() { hsm.ctl.Clear() })
	if err := os.Truncate(hsm.log, 0); err != nil && !errors.Is(err, os.ErrNotExist) {
		require.NoError(t, err)
	}
	log := hsm.log
	u, err := ParseURI("pkcs11:token=alpha?module-path=" + module + uri)
	require.NoError(t, err)
	cfg, err := u.Config()
	require.NoError(t, err)
	tok, err := Open(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, tok.Close()) })
	return tok, log
}

// randomCalls returns the C_GenerateRandom calls in the log, by return value.
func randomCalls(t *testing.T, log string) map[uint]int {
	t.Helper()
	calls, err := faultp11.ReadLog(log)
	require.NoError(t, err)
	m := map[uint]int{}
	for _, c := range calls {
		if c.Func == "C_GenerateRandom" {
			m[c.RV]++
		}
	}
	return m
}

// TestSoftHSMRequestLimit: a module that carries at most 4096 bytes per
// call; the token learns it and delivers.
func TestSoftHSMRequestLimit(t *testing.T) {
	tok, log := openCapped(t, 4096, 0, "")
	p := make([]byte, 2*MaxChunk+100)
	require.NoError(t, tok.GenerateRandom(t.Context(), p))
	_, err := checkBlock(p, len(p))
	assert.NoError(t, err)

	// 64, 32, 16 and 8 KiB refused; 32 calls of 4 KiB and one of 100 bytes.
	st := tok.Stats()
	assert.Equal(t, StateUp, st.State)
	assert.Equal(t, 4096, st.MaxRequest)
	assert.Equal(t, uint64(4+32+1), st.Calls)
	assert.Equal(t, uint64(len(p)), st.Bytes)
	assert.Equal(t, map[string]uint64{"CKR_DATA_LEN_RANGE": 4}, st.Errors)
	assert.Equal(t, map[uint]int{pkcs11.CKR_DATA_LEN_RANGE: 4, pkcs11.CKR_OK: 33}, randomCalls(t, log))
}

// TestSoftHSMRequestLimitFromURI: x-max-request below the module's cap
// spares the refusals.
func TestSoftHSMRequestLimitFromURI(t *testing.T) {
	tok, log := openCapped(t, 4096, pkcs11.CKR_ARGUMENTS_BAD, "&x-max-request=3000")
	require.NoError(t, tok.GenerateRandom(t.Context(), make([]byte, 9000)))
	st := tok.Stats()
	assert.Equal(t, 3000, st.MaxRequest)
	assert.Equal(t, uint64(3), st.Calls)
	assert.Empty(t, st.Errors)
	assert.Equal(t, map[uint]int{pkcs11.CKR_OK: 3}, randomCalls(t, log))
}

// TestSoftHSMRequestLimitBelowFloor: a module that refuses even MinRequest
// bytes takes the token down with an error that says so.
func TestSoftHSMRequestLimitBelowFloor(t *testing.T) {
	tok, log := openCapped(t, MinRequest-1, pkcs11.CKR_HOST_MEMORY, "")
	err := tok.GenerateRandom(t.Context(), make([]byte, 64))
	require.ErrorIs(t, err, pkcs11.Error(pkcs11.CKR_HOST_MEMORY))
	assert.Contains(t, err.Error(), "refused a request of 32 bytes, the smallest this package makes")
	st := tok.Stats()
	assert.Equal(t, StateDown, st.State)
	assert.Equal(t, MinRequest, st.MaxRequest)
	assert.Equal(t, map[uint]int{pkcs11.CKR_HOST_MEMORY: 2}, randomCalls(t, log))
}
