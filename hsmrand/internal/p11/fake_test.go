package p11

import (
	"crypto/rand"
	"sync"
	"testing"

	"github.com/miekg/pkcs11"
)

// fakeModule is a PKCS#11 module in memory, for what SoftHSM cannot do: a
// token without CKF_RNG, a device that is removed and comes back in another
// slot, a PIN that stops working, bad output. It implements module.
type fakeModule struct {
	mu       sync.Mutex
	slots    map[uint]*fakeToken // present tokens by slot
	pin      string
	sessions map[pkcs11.SessionHandle]uint // open sessions and their slots
	nextH    pkcs11.SessionHandle
	loggedIn bool

	// gen, when set, answers C_GenerateRandom instead of crypto/rand.
	gen func(n int) ([]byte, error)

	logins   int
	requests []int // lengths asked of C_GenerateRandom
}

type fakeToken struct {
	label, serial string
	flags         uint
}

func newFake(pin string, tokens map[uint]*fakeToken) *fakeModule {
	return &fakeModule{slots: tokens, pin: pin, sessions: map[pkcs11.SessionHandle]uint{}}
}

// closeAll is C_CloseAllSessions: every session is gone and the user is
// logged out.
func (f *fakeModule) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.sessions)
	f.loggedIn = false
}

// remove unplugs the token in slot: its sessions and login are gone.
func (f *fakeModule) remove(slot uint) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.slots, slot)
	clear(f.sessions)
	f.loggedIn = false
}

func (f *fakeModule) GetInfo() (pkcs11.Info, error) {
	return pkcs11.Info{ManufacturerID: "fake", LibraryDescription: "fake module", LibraryVersion: pkcs11.Version{Major: 1, Minor: 2}}, nil
}

func (f *fakeModule) GetSlotList(bool) ([]uint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s []uint
	for id := range f.slots {
		s = append(s, id)
	}
	return s, nil
}

func (f *fakeModule) GetSlotInfo(slot uint) (pkcs11.SlotInfo, error) {
	return pkcs11.SlotInfo{SlotDescription: "fake slot", ManufacturerID: "fake"}, nil
}

func (f *fakeModule) GetTokenInfo(slot uint) (pkcs11.TokenInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tok, ok := f.slots[slot]
	if !ok {
		return pkcs11.TokenInfo{}, pkcs11.Error(pkcs11.CKR_TOKEN_NOT_PRESENT)
	}
	return pkcs11.TokenInfo{Label: tok.label, SerialNumber: tok.serial, Flags: tok.flags}, nil
}

func (f *fakeModule) OpenSession(slot uint, flags uint) (pkcs11.SessionHandle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.slots[slot]; !ok {
		return 0, pkcs11.Error(pkcs11.CKR_TOKEN_NOT_PRESENT)
	}
	f.nextH++
	f.sessions[f.nextH] = slot
	return f.nextH, nil
}

func (f *fakeModule) CloseSession(h pkcs11.SessionHandle) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.sessions[h]; !ok {
		return pkcs11.Error(pkcs11.CKR_SESSION_HANDLE_INVALID)
	}
	delete(f.sessions, h)
	return nil
}

func (f *fakeModule) Login(h pkcs11.SessionHandle, userType uint, pin string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logins++
	if _, ok := f.sessions[h]; !ok {
		return pkcs11.Error(pkcs11.CKR_SESSION_HANDLE_INVALID)
	}
	if f.loggedIn {
		return pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN)
	}
	if pin != f.pin {
		return pkcs11.Error(pkcs11.CKR_PIN_INCORRECT)
	}
	f.loggedIn = true
	return nil
}

func (f *fakeModule) GenerateRandom(h pkcs11.SessionHandle, n int) ([]byte, error) {
	f.mu.Lock()
	f.requests = append(f.requests, n)
	_, ok := f.sessions[h]
	gen := f.gen
	f.mu.Unlock()
	if !ok {
		return nil, pkcs11.Error(pkcs11.CKR_SESSION_HANDLE_INVALID)
	}
	if gen != nil {
		return gen(n)
	}
	b := make([]byte, n)
	rand.Read(b)
	return b, nil
}

func (f *fakeModule) SeedRandom(h pkcs11.SessionHandle, seed []byte) error {
	return pkcs11.Error(pkcs11.CKR_RANDOM_SEED_NOT_SUPPORTED)
}

func (f *fakeModule) setGen(gen func(n int) ([]byte, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gen = gen
}

func (f *fakeModule) stats() (logins int, requests []int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logins, append([]int(nil), f.requests...)
}

// openFake opens a Token on f, as Open does on a real module.
func openFake(t testing.TB, f *fakeModule, cfg Config, lenient bool) (*Token, error) {
	if cfg.ModulePath == "" {
		cfg.ModulePath = "/fake/module.so"
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	pin, err := cfg.loadPIN()
	if err != nil {
		return nil, err
	}
	return newToken(t.Context(), cfg, f, func() error { return nil }, pin, lenient)
}
