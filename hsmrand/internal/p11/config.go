package p11

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Defaults for the zero values in [Config].
const (
	DefaultMaxSessions = 4
	DefaultBackoffMin  = 100 * time.Millisecond
	DefaultBackoffMax  = 30 * time.Second
)

// Config selects one token and says how to use it. Every field is optional
// except ModulePath; the zero value of the others means "any" or "the default".
// Build one directly, from a URI ([URI.Config]) or from Vault's settings
// ([ConfigFromVault]). Open copies what it needs and never changes a Config.
//
// A token is selected when it matches every selection field that is set (the
// RFC 7512 rule). Select by TokenLabel or Serial rather than SlotID where you
// can: tokens move slots when they are re-initialised, and the token is looked
// for again after a device fault.
//
// fmt prints a Config with the PIN redacted, whatever the verb.
type Config struct {
	// ModulePath is the absolute path of the PKCS#11 library
	// (RFC 7512 module-path; Vault's lib, VAULT_HSM_LIB).
	ModulePath string

	// Token selection (RFC 7512 path attributes).
	TokenLabel          string // token; Vault's token_label, VAULT_HSM_TOKEN_LABEL
	Serial              string // serial
	Manufacturer        string // manufacturer
	Model               string // model
	SlotID              *uint  // slot-id; Vault's slot, VAULT_HSM_SLOT
	SlotDescription     string // slot-description
	SlotManufacturer    string // slot-manufacturer
	LibraryManufacturer string // library-manufacturer
	LibraryDescription  string // library-description
	LibraryVersion      string // library-version, "M" or "M.N"

	// PIN, when set, logs in as the normal user (CKU_USER). Without a PIN
	// (or PINSource) no login is made: many tokens serve C_GenerateRandom
	// to a session that is not logged in. Open copies the PIN and wipes its
	// copy on Close; the caller wipes its own.
	PIN []byte
	// PINSource names a file holding the PIN, as "file:/abs/path" or
	// "/abs/path" (RFC 7512 pin-source). A final newline is dropped.
	PINSource string

	TokenOptions
}

// TokenOptions say how a token is used, however it was selected: the
// per-token settings that hsmrand's Config carries as they are (its
// TokenOptions) and that a URI's x-max-request can set for one token. The
// zero value means the defaults. They are checked once, when a Config is
// opened.
type TokenOptions struct {
	// MaxSessions bounds the sessions open on the token, and so the
	// C_GenerateRandom calls in flight (each blocks an OS thread).
	// 0 means DefaultMaxSessions (4).
	MaxSessions int

	// BackoffMin and BackoffMax bound the wait, per token, after a device
	// fault (CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT, CKR_DEVICE_ERROR,
	// ...) before the token is looked for again; the wait doubles from
	// BackoffMin up to BackoffMax, with jitter. A token that comes back is
	// therefore in use again within about BackoffMax. 0 means
	// DefaultBackoffMin (100 ms) and DefaultBackoffMax (30 s).
	BackoffMin, BackoffMax time.Duration

	// NoReinitialize forbids re-initialising the module (C_Finalize, then
	// C_Initialize) to recover from a module-wide failure. Some network
	// modules (p11-kit's client among them) never reconnect by themselves
	// after their server restarts: every call, C_GetSlotList included,
	// answers CKR_DEVICE_ERROR until the module is re-initialised. The
	// re-initialisation also ends every other user's sessions on the
	// module in this process; set NoReinitialize when other code shares
	// the module and must not have that happen (the token then recovers
	// only if the module does by itself, or when the process restarts).
	NoReinitialize bool

	// MaxRequest is the largest C_GenerateRandom request, in bytes, from
	// MinRequest (32) to MaxChunk (64 KiB); 0 means MaxChunk. A token's URI
	// attribute x-max-request overrides it for that token. A token that
	// refuses a request as too large (CKR_DATA_LEN_RANGE,
	// CKR_ARGUMENTS_BAD, a memory error) is asked again for half as much,
	// without a fault, and keeps the size that works ([Stats].MaxRequest);
	// set this for a module known to carry less, to spare it those first
	// refusals.
	MaxRequest int
}

// Config turns the URI into a Config. module-path may name the library or,
// with module-name, the directory holding it (RFC 7512, Section 2.3); a
// module-name without module-path is refused, as there is no search path.
// The PIN is copied.
func (u *URI) Config() (Config, error) {
	c := Config{
		TokenLabel: u.Token, Serial: u.Serial, Manufacturer: u.Manufacturer, Model: u.Model,
		SlotDescription: u.SlotDescription, SlotManufacturer: u.SlotManufacturer,
		LibraryManufacturer: u.LibraryManufacturer, LibraryDescription: u.LibraryDescription,
		LibraryVersion: u.LibraryVersion, PINSource: u.PINSource,
	}
	c.MaxRequest = u.MaxRequest
	if u.SlotID != nil {
		id := *u.SlotID
		c.SlotID = &id
	}
	path, err := resolveModule(u.ModulePath, u.ModuleName)
	if err != nil {
		return Config{}, err
	}
	c.ModulePath = path
	if len(u.PINValue) > 0 {
		c.PIN = bytes.Clone(u.PINValue)
	}
	return c, nil
}

// resolveModule applies RFC 7512's module-path and module-name rules.
func resolveModule(path, name string) (string, error) {
	switch {
	case path == "" && name == "":
		return "", errors.New("p11: URI names no module; add ?module-path=/abs/path/to/lib.so")
	case path == "":
		return "", fmt.Errorf("p11: URI gives module-name %q without module-path; add module-path (the library or its directory)", name)
	}
	fi, err := os.Stat(path)
	if err != nil || !fi.IsDir() {
		return path, nil // a file; Open reports a missing one
	}
	if name == "" {
		return "", fmt.Errorf("p11: module-path %s is a directory; add module-name", path)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return "", fmt.Errorf("p11: module-path: %w", err)
	}
	// A file matches when module-name is followed by "." or ends its name,
	// case aside: "softhsm2" finds libsofthsm2.so but "softhsm" does not.
	want := strings.ToLower(name)
	for _, e := range entries {
		f := strings.ToLower(e.Name())
		if i := strings.Index(f, want); i >= 0 && (i+len(want) == len(f) || f[i+len(want)] == '.') {
			return filepath.Join(path, e.Name()), nil
		}
	}
	return "", fmt.Errorf("p11: no library named %q in module-path %s", name, path)
}

// validate checks what can be checked without the module.
func (c *Config) validate() error {
	switch {
	case c.ModulePath == "":
		return errors.New("p11: config needs a module path (module-path, lib, VAULT_HSM_LIB)")
	case !filepath.IsAbs(c.ModulePath):
		return fmt.Errorf("p11: module path %q must be absolute", c.ModulePath)
	case len(c.PIN) > 0 && c.PINSource != "":
		return errors.New("p11: config gives both a PIN and a PIN source; give one")
	case c.MaxSessions < 0:
		return fmt.Errorf("p11: MaxSessions %d is negative", c.MaxSessions)
	case c.BackoffMin < 0 || c.BackoffMax < 0:
		return errors.New("p11: back-off durations must not be negative")
	case c.MaxRequest != 0 && (c.MaxRequest < MinRequest || c.MaxRequest > MaxChunk):
		return fmt.Errorf("p11: MaxRequest (x-max-request) is %d bytes, want 0 (the default, %d) or %d to %d: the output checks need %d bytes per call",
			c.MaxRequest, MaxChunk, MinRequest, MaxChunk, MinRequest)
	}
	if c.LibraryVersion != "" {
		if _, _, err := parseVersion(c.LibraryVersion); err != nil {
			return fmt.Errorf("p11: library version %q must be M or M.N", c.LibraryVersion)
		}
	}
	return nil
}

// withDefaults returns a copy with zero values replaced and no PIN.
func (c Config) withDefaults() Config {
	c.PIN, c.PINSource = nil, ""
	if c.MaxSessions == 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	if c.BackoffMin == 0 {
		c.BackoffMin = DefaultBackoffMin
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = DefaultBackoffMax
	}
	c.BackoffMax = max(c.BackoffMax, c.BackoffMin)
	if c.MaxRequest == 0 {
		c.MaxRequest = MaxChunk
	}
	if c.SlotID != nil {
		id := *c.SlotID
		c.SlotID = &id
	}
	return c
}

// loadPIN returns a fresh copy of the PIN, read from PINSource if that is
// set, or nil when no login is configured. The caller wipes it.
func (c *Config) loadPIN() ([]byte, error) {
	if c.PINSource == "" {
		if len(c.PIN) == 0 {
			return nil, nil
		}
		return bytes.Clone(c.PIN), nil
	}
	path, ok := strings.CutPrefix(c.PINSource, "file:")
	if !ok && !strings.HasPrefix(path, "/") {
		// The value is not echoed: a PIN put here by mistake would leak.
		return nil, errors.New("p11: pin-source must be file:/abs/path or /abs/path (the value given is not shown, in case it is a PIN)")
	}
	path = strings.TrimPrefix(path, "//") // file:///abs/path
	if !filepath.IsAbs(path) {
		return nil, errors.New("p11: pin-source must name an absolute path (the value given is not shown, in case it is a PIN)")
	}
	return readPINFile(path)
}

// selection describes the selection fields for error messages. Labels,
// serials and slots are not secret.
func (c *Config) selection() string {
	var b strings.Builder
	add := func(k, v string) {
		if v != "" {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(k + "=" + strconv.Quote(v))
		}
	}
	add("token", c.TokenLabel)
	add("serial", c.Serial)
	add("manufacturer", c.Manufacturer)
	add("model", c.Model)
	if c.SlotID != nil {
		add("slot-id", strconv.FormatUint(uint64(*c.SlotID), 10))
	}
	add("slot-description", c.SlotDescription)
	add("slot-manufacturer", c.SlotManufacturer)
	if b.Len() == 0 {
		return "any token"
	}
	return b.String()
}

// String describes the configuration with the PIN redacted.
func (c Config) String() string {
	pin := "none"
	switch {
	case len(c.PIN) > 0:
		pin = "REDACTED"
	case c.PINSource != "":
		pin = "from " + c.PINSource
	}
	return fmt.Sprintf("p11.Config{module=%q %s pin=%s}", c.ModulePath, c.selection(), pin)
}

// GoString is String, so %#v does not print the PIN.
func (c Config) GoString() string { return c.String() }

// Format prints String for every verb, so no fmt verb prints the PIN.
func (c Config) Format(f fmt.State, verb rune) { fmt.Fprint(f, c.String()) }
