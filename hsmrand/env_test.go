package hsmrand

import (
	"strings"
	"testing"
	"time"
)

func TestConfigFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	c, err := ConfigFromEnv(env(EnvURI, "pkcs11:token=a?module-path=/x.so", EnvFailoverURIs, " pkcs11:token=b?module-path=/x.so  pkcs11:token=c?module-path=/x.so ",
		EnvPolicy, "degrade", EnvDeadline, "250ms", "VAULT_HSM_LIB", "/ignored.so"))
	if err != nil || c.URI != "pkcs11:token=a?module-path=/x.so" || len(c.FailoverURIs) != 2 || c.Policy != Degrade || c.Deadline != 250*time.Millisecond || c.ModulePath != "" {
		t.Errorf("URI config %v, %v", c, err)
	}
	c, err = ConfigFromEnv(env("VAULT_HSM_LIB", "/lib.so", "VAULT_HSM_SLOT", "0x10", "VAULT_HSM_PIN", "1234"))
	if err != nil || c.ModulePath != "/lib.so" || c.SlotID == nil || *c.SlotID != 16 || string(c.PIN) != "1234" || c.Policy != FailClosed {
		t.Errorf("Vault config %v, %v", c, err)
	}
	for _, tc := range []struct {
		env  func(string) string
		want string
	}{
		{env(), "no HSM configured"},
		{env("VAULT_HSM_LIB", "/lib.so", "VAULT_HSM_PIN", "1234"), "name the token"},
		{env("VAULT_HSM_LIB", "/lib.so", "VAULT_HSM_SLOT", "x1", "VAULT_HSM_PIN", "1234"), "slot"},
		{env(EnvURI, "pkcs11:", EnvPolicy, "open"), EnvPolicy},
		{env(EnvURI, "pkcs11:", EnvDeadline, "-1s"), EnvDeadline},
		{env(EnvURI, "pkcs11:", EnvDeadline, "soon"), EnvDeadline},
	} {
		_, err := ConfigFromEnv(tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "1234") {
			t.Errorf("ConfigFromEnv: %v; want an error about %s, without the PIN", err, tc.want)
		}
	}
}
