package p11

import (
	"fmt"
	"strconv"
	"strings"
)

// The environment variables of Vault's PKCS#11 seal that this package reads.
const (
	VaultEnvLib        = "VAULT_HSM_LIB"
	VaultEnvSlot       = "VAULT_HSM_SLOT"
	VaultEnvTokenLabel = "VAULT_HSM_TOKEN_LABEL"
	VaultEnvPIN        = "VAULT_HSM_PIN"
)

// vaultKeys maps the seal "pkcs11" stanza's parameter names to the
// environment variables that override them.
var vaultKeys = [...]struct{ param, env string }{
	{"lib", VaultEnvLib},
	{"slot", VaultEnvSlot},
	{"token_label", VaultEnvTokenLabel},
	{"pin", VaultEnvPIN},
}

// ConfigFromVault builds a Config from the parameters of Vault's
// seal "pkcs11" stanza (lib, slot, token_label, pin) and Vault's environment
// variables (VAULT_HSM_LIB, VAULT_HSM_SLOT, VAULT_HSM_TOKEN_LABEL,
// VAULT_HSM_PIN), so a Vault operator can point this package at the same HSM
// with the same settings. As in Vault, a variable that is set takes precedence
// over the stanza. The stanza's other parameters (key_label, mechanism, ...)
// are ignored. slot is decimal, or hexadecimal with "0x". When both slot and
// token_label are given, the token must match both.
//
// params or getenv may be nil. The PIN string cannot be wiped; prefer
// pin-source in a URI where the deployment allows it.
func ConfigFromVault(params map[string]string, getenv func(string) string) (Config, error) {
	var v [len(vaultKeys)]string
	for i, k := range vaultKeys {
		if getenv != nil {
			v[i] = getenv(k.env)
		}
		if v[i] == "" {
			v[i] = params[k.param]
		}
	}
	c := Config{ModulePath: v[0], TokenLabel: v[2]}
	if v[1] != "" {
		slot, err := parseVaultSlot(v[1])
		if err != nil {
			return Config{}, err
		}
		c.SlotID = &slot
	}
	if v[3] != "" {
		c.PIN = []byte(v[3])
	}
	if c.ModulePath == "" {
		return Config{}, fmt.Errorf("p11: Vault settings name no library; set lib or %s", VaultEnvLib)
	}
	return c, nil
}

// ConfigFromVaultEnv is ConfigFromVault with the environment alone.
func ConfigFromVaultEnv(getenv func(string) string) (Config, error) {
	return ConfigFromVault(nil, getenv)
}

// parseVaultSlot reads a slot number as Vault writes it: decimal, or
// hexadecimal with a 0x prefix. (strconv's base 0 would read "010" as octal.)
func parseVaultSlot(s string) (uint, error) {
	base, digits := 10, s
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		base, digits = 16, h
	}
	n, err := strconv.ParseUint(digits, base, strconv.IntSize)
	if err != nil || digits == "" || digits[0] == '+' {
		return 0, fmt.Errorf("p11: Vault slot %q must be a decimal number or 0x-prefixed hexadecimal", s)
	}
	return uint(n), nil
}
