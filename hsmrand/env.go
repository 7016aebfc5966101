package hsmrand

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hsmentropy/hsmentropy/hsmrand/internal/p11"
)

// The environment variables ConfigFromEnv reads, besides Vault's
// VAULT_HSM_LIB, VAULT_HSM_SLOT, VAULT_HSM_TOKEN_LABEL and VAULT_HSM_PIN.
const (
	// EnvURI is an RFC 7512 PKCS#11 URI naming the token. Put the PIN in a
	// file named by pin-source rather than in pin-value.
	EnvURI = "HSMRAND_URI"
	// EnvFailoverURIs lists further tokens' URIs, separated by spaces.
	EnvFailoverURIs = "HSMRAND_FAILOVER_URIS"
	// EnvPolicy is the failure policy: "fail-closed" (the default) or
	// "degrade".
	EnvPolicy = "HSMRAND_POLICY"
	// EnvDeadline is Options.Deadline as a Go duration ("5s").
	EnvDeadline = "HSMRAND_DEADLINE"
	// EnvMaxRequest is Config.MaxRequest, in bytes ("4096").
	EnvMaxRequest = "HSMRAND_MAX_REQUEST"
	// EnvGetRandom is where GetRandom takes its HSM bytes: "buffered" (the
	// default) or "live" (Options.LiveGetRandom). Options.AllowOSOnlyGetRandom
	// has no variable: output weaker than GetRandom promises is opted into
	// in code.
	EnvGetRandom = "HSMRAND_GETRANDOM"
)

// ConfigFromEnv builds a Config from the environment, through getenv
// (os.Getenv): the token from HSMRAND_URI (and HSMRAND_FAILOVER_URIS) or,
// when that is unset, from the variables of Vault's PKCS#11 seal
// (VAULT_HSM_LIB, VAULT_HSM_SLOT, VAULT_HSM_TOKEN_LABEL, VAULT_HSM_PIN); the
// policy from HSMRAND_POLICY and HSMRAND_DEADLINE; the request limit from
// HSMRAND_MAX_REQUEST; GetRandom's mode from HSMRAND_GETRANDOM. Errors name
// variables, never their values.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var c Config
	switch {
	case getenv(EnvURI) != "":
		c.URI = getenv(EnvURI)
		c.FailoverURIs = strings.Fields(getenv(EnvFailoverURIs))
	case getenv(p11.VaultEnvLib) != "":
		v, err := p11.ConfigFromVaultEnv(getenv)
		if err != nil {
			return Config{}, fmt.Errorf("hsmrand: %w", err)
		}
		c.ModulePath, c.TokenLabel, c.SlotID, c.PIN = v.ModulePath, v.TokenLabel, v.SlotID, v.PIN
		if c.TokenLabel == "" && c.SlotID == nil {
			clear(c.PIN)
			return Config{}, fmt.Errorf("hsmrand: %s is set but neither %s nor %s: name the token", p11.VaultEnvLib, p11.VaultEnvTokenLabel, p11.VaultEnvSlot)
		}
	default:
		return Config{}, fmt.Errorf("hsmrand: no HSM configured: set %s to a PKCS#11 URI (pkcs11:token=...?module-path=/path/to/lib.so&pin-source=file:/path/to/pin), or Vault's %s and %s", EnvURI, p11.VaultEnvLib, p11.VaultEnvTokenLabel)
	}
	switch v := getenv(EnvPolicy); v {
	case "", FailClosed.String():
		c.Policy = FailClosed
	case Degrade.String():
		c.Policy = Degrade
	default:
		clear(c.PIN)
		return Config{}, fmt.Errorf("hsmrand: %s is %q, want %q or %q", EnvPolicy, v, FailClosed, Degrade)
	}
	if v := getenv(EnvDeadline); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			clear(c.PIN)
			return Config{}, fmt.Errorf("hsmrand: %s is %q, want a positive duration such as 5s", EnvDeadline, v)
		}
		c.Deadline = d
	}
	if v := getenv(EnvMaxRequest); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < MinHSMRequest || n > MaxHSMRequest {
			clear(c.PIN)
			return Config{}, fmt.Errorf("hsmrand: %s is %q, want a number of bytes from %d to %d", EnvMaxRequest, v, MinHSMRequest, MaxHSMRequest)
		}
		c.MaxRequest = n
	}
	switch v := getenv(EnvGetRandom); v {
	case "", "buffered":
	case "live":
		c.LiveGetRandom = true
	default:
		clear(c.PIN)
		return Config{}, fmt.Errorf("hsmrand: %s is %q, want \"buffered\" or \"live\"", EnvGetRandom, v)
	}
	return c, nil
}
