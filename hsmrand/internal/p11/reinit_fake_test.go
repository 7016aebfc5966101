package p11

import (
	"sync"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// netModule is a network PKCS#11 module in memory, as p11-kit's client
// behaves (the real one is tested in the p11kit tests): once its server
// goes away, every call, C_GetSlotList included, answers CKR_DEVICE_ERROR,
// and it stays so after the server is back until the module is finalised
// and initialised again. A re-initialisation starts session handles from 1
// again, as real modules do, so an old handle names a new session. The
// fake shows the bookkeeping the real module cannot expose: which slot each
// C_GenerateRandom reached, and the C_Finalize calls.
type netModule struct {
	*fakeModule
	mu        sync.Mutex
	serverUp  bool
	connected bool
	empty     bool // re-initialised while the server was away
	finalizes int
	slotOf    []uint // the slot of each C_GenerateRandom's session
}

func newNetModule(pin string, tokens map[uint]*fakeToken) *netModule {
	return &netModule{fakeModule: newFake(pin, tokens), serverUp: true, connected: true}
}

func (n *netModule) live() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.serverUp || !n.connected {
		return pkcs11.Error(pkcs11.CKR_DEVICE_ERROR)
	}
	return nil
}

// setServer stops or starts the server; stopping it loses every session
// and login, and the module's connection.
func (n *netModule) setServer(up bool) {
	n.mu.Lock()
	n.serverUp = up
	if !up {
		n.connected = false
	}
	n.mu.Unlock()
	if !up {
		n.closeAll()
	}
}

func (n *netModule) Initialize(...pkcs11.InitializeOption) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.connected = true
	n.empty = !n.serverUp // p11-kit: an empty slot list until the next re-initialisation
	n.fakeModule.mu.Lock()
	n.fakeModule.nextH = 0 // handles start again: old ones name new sessions
	n.fakeModule.mu.Unlock()
	return nil
}

func (n *netModule) Finalize() error {
	n.mu.Lock()
	n.finalizes++
	n.connected = false
	n.mu.Unlock()
	n.closeAll()
	return nil
}

func (n *netModule) GetSlotList(present bool) ([]uint, error) {
	n.mu.Lock()
	empty := n.empty
	n.mu.Unlock()
	if empty {
		return nil, nil
	}
	if err := n.live(); err != nil {
		return nil, err
	}
	return n.fakeModule.GetSlotList(present)
}

func (n *netModule) GetTokenInfo(slot uint) (pkcs11.TokenInfo, error) {
	if err := n.live(); err != nil {
		return pkcs11.TokenInfo{}, err
	}
	return n.fakeModule.GetTokenInfo(slot)
}

func (n *netModule) OpenSession(slot, flags uint) (pkcs11.SessionHandle, error) {
	if err := n.live(); err != nil {
		return 0, err
	}
	return n.fakeModule.OpenSession(slot, flags)
}

func (n *netModule) Login(h pkcs11.SessionHandle, userType uint, pin string) error {
	if err := n.live(); err != nil {
		return err
	}
	return n.fakeModule.Login(h, userType, pin)
}

func (n *netModule) GenerateRandom(h pkcs11.SessionHandle, length int) ([]byte, error) {
	if err := n.live(); err != nil {
		return nil, err
	}
	n.fakeModule.mu.Lock()
	slot, ok := n.fakeModule.sessions[h]
	n.fakeModule.mu.Unlock()
	if ok {
		n.mu.Lock()
		n.slotOf = append(n.slotOf, slot)
		n.mu.Unlock()
	}
	return n.fakeModule.GenerateRandom(h, length)
}

func (n *netModule) counts() (finalizes int, slotOf []uint) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.finalizes, append([]uint(nil), n.slotOf...)
}

// openNet opens a Token on a library over n, as Open does on a real module.
func openNet(t *testing.T, n *netModule, cfg Config, owned bool) *Token {
	t.Helper()
	lib := &library{initer: n, owned: owned, up: true}
	return openNetLib(t, lib, cfg)
}

func openNetLib(t *testing.T, lib *library, cfg Config) *Token {
	t.Helper()
	cfg.ModulePath = "/fake/net.so"
	cfg.BackoffMin, cfg.BackoffMax = 5*time.Millisecond, 20*time.Millisecond
	require.NoError(t, cfg.validate())
	pin, err := cfg.loadPIN()
	require.NoError(t, err)
	tok, err := newToken(t.Context(), cfg, lib, func() error { return nil }, pin, false)
	require.NoError(t, err)
	t.Cleanup(func() { tok.Close() })
	return tok
}

// drawUntil calls GenerateRandom until it succeeds or the deadline passes,
// and returns the last error.
func drawUntil(t *testing.T, tok *Token, d time.Duration) error {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := tok.GenerateRandom(t.Context(), make([]byte, 32))
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestFakeNetworkModuleReinitialized(t *testing.T) {
	n := newNetModule("1234", oneToken())
	tok := openNet(t, n, Config{TokenLabel: "kmes", PIN: []byte("1234")}, true)
	require.NoError(t, tok.GenerateRandom(t.Context(), make([]byte, 32)))

	n.setServer(false)
	err := tok.GenerateRandom(t.Context(), make([]byte, 32))
	require.ErrorIs(t, err, ErrTokenDown)
	// While the server is away, re-initialising does not help: the token
	// stays down, and is not failed.
	assert.Error(t, drawUntil(t, tok, 100*time.Millisecond))
	assert.Equal(t, StateDown, tok.Stats().State)

	n.setServer(true)
	require.NoError(t, drawUntil(t, tok, 5*time.Second), "the token is back once the module is re-initialised")
	st := tok.Stats()
	assert.Equal(t, StateUp, st.State)
	assert.GreaterOrEqual(t, st.Reinitializations, uint64(1))
	assert.GreaterOrEqual(t, st.Recoveries, uint64(1))
	finalizes, _ := n.counts()
	assert.Equal(t, int(st.Reinitializations), finalizes, "one C_Finalize per re-initialisation")
	logins, _ := n.fakeModule.stats()
	assert.Equal(t, 2, logins, "one C_Login at Open, one after the re-initialisation")
	for range 20 {
		require.NoError(t, tok.GenerateRandom(t.Context(), make([]byte, 32)))
	}
	assert.Equal(t, st.Reinitializations, tok.Stats().Reinitializations, "no re-initialisation while the module works")
}

func TestFakeNetworkModuleNoReinitialize(t *testing.T) {
	n := newNetModule("", oneToken())
	tok := openNet(t, n, Config{TokenLabel: "kmes", TokenOptions: TokenOptions{NoReinitialize: true}}, true)
	n.setServer(false)
	n.setServer(true)
	err := drawUntil(t, tok, 200*time.Millisecond)
	require.ErrorIs(t, err, ErrTokenDown)
	assert.Contains(t, err.Error(), "NoReinitialize")
	finalizes, _ := n.counts()
	assert.Zero(t, finalizes)
	assert.Zero(t, tok.Stats().Reinitializations)
}

// A module that other code in the process initialised first is not ours to
// finalise, whatever the configuration says.
func TestFakeNetworkModuleNotOurs(t *testing.T) {
	n := newNetModule("", oneToken())
	tok := openNet(t, n, Config{TokenLabel: "kmes"}, false)
	n.setServer(false)
	n.setServer(true)
	err := drawUntil(t, tok, 200*time.Millisecond)
	require.ErrorIs(t, err, ErrTokenDown)
	assert.Contains(t, err.Error(), "initialised by other code")
	finalizes, _ := n.counts()
	assert.Zero(t, finalizes)
}

// Two tokens share the module. The one that notices first re-initialises
// it; the other's idle session, whose handle number the module has since
// given to the first token's new session, is never used again: every call
// of the second token reaches its own slot.
func TestFakeNetworkModuleSharedHandlesNotReused(t *testing.T) {
	n := newNetModule("", map[uint]*fakeToken{
		1: {label: "a", serial: "A", flags: fakeRNG},
		2: {label: "b", serial: "B", flags: fakeRNG},
	})
	lib := &library{initer: n, owned: true, up: true}
	a := openNetLib(t, lib, Config{TokenLabel: "a"})
	b := openNetLib(t, lib, Config{TokenLabel: "b"})
	require.NoError(t, a.GenerateRandom(t.Context(), make([]byte, 32)))
	require.NoError(t, b.GenerateRandom(t.Context(), make([]byte, 32)))

	n.setServer(false)
	n.setServer(true)
	require.NoError(t, drawUntil(t, a, 5*time.Second))
	_, before := n.counts()
	require.NoError(t, drawUntil(t, b, 5*time.Second))
	require.NoError(t, b.GenerateRandom(t.Context(), make([]byte, 32)))
	_, after := n.counts()
	for _, slot := range after[len(before):] {
		assert.Equal(t, uint(2), slot, "token b's call reached slot %d", slot)
	}
	finalizes, _ := n.counts()
	assert.Equal(t, 1, finalizes, "one re-initialisation serves both tokens")
}

// A token that is merely missing (C_GetSlotList works) is looked for again;
// the module is not re-initialised for it.
func TestFakeTokenMissingNoReinitialize(t *testing.T) {
	n := newNetModule("", oneToken())
	tok := openNet(t, n, Config{TokenLabel: "kmes"}, true)
	n.remove(7)
	err := drawUntil(t, tok, 100*time.Millisecond)
	require.Error(t, err)
	assert.False(t, isFatal(err), "a missing token is looked for again: %v", err)
	finalizes, _ := n.counts()
	assert.Zero(t, finalizes)
}

// TestFakeNetworkModuleReinitResetsLimit: the request limit a token learned
// from refusals starts again from Config.MaxRequest after the module is
// re-initialised (the new connection may carry more), and is learned again
// if it does not.
func TestFakeNetworkModuleReinitResetsLimit(t *testing.T) {
	n := newNetModule("", oneToken())
	n.setGen(capped(5000, pkcs11.CKR_DATA_LEN_RANGE))
	tok := openNet(t, n, Config{TokenLabel: "kmes"}, true)
	require.NoError(t, tok.GenerateRandom(t.Context(), make([]byte, 2*MaxChunk)))
	require.Equal(t, 4096, tok.Stats().MaxRequest, "learned from the refusals: 64 KiB halved until it passes")

	n.setServer(false)
	n.setServer(true)
	require.NoError(t, drawUntil(t, tok, 5*time.Second), "the token is back once the module is re-initialised")
	st := tok.Stats()
	require.GreaterOrEqual(t, st.Reinitializations, uint64(1))
	assert.Equal(t, MaxChunk, st.MaxRequest, "the limit starts again after a re-initialisation")

	// The new connection carries 10,000 bytes: 8 KiB is the new limit.
	n.setGen(capped(10000, pkcs11.CKR_DATA_LEN_RANGE))
	require.NoError(t, tok.GenerateRandom(t.Context(), make([]byte, 2*MaxChunk)))
	assert.Equal(t, 8192, tok.Stats().MaxRequest)
}
