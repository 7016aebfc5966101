package hsmrand

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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
	assert.NoError(t, err, "URI config")
	assert.Equal(t, "pkcs11:token=a?module-path=/x.so", c.URI, "URI config")
	assert.Len(t, c.FailoverURIs, 2, "URI config")
	assert.Equal(t, Degrade, c.Policy, "URI config")
	assert.Equal(t, 250*time.Millisecond, c.Deadline, "URI config")
	assert.Empty(t, c.ModulePath, "URI config")
	c, err = ConfigFromEnv(env("VAULT_HSM_LIB", "/lib.so", "VAULT_HSM_SLOT", "0x10", "VAULT_HSM_PIN", "1234"))
	assert.NoError(t, err, "Vault config")
	assert.Equal(t, "/lib.so", c.ModulePath, "Vault config")
	if assert.NotNil(t, c.SlotID, "Vault config") {
		assert.Equal(t, uint(16), *c.SlotID, "Vault config")
	}
	assert.Equal(t, []byte("1234"), c.PIN, "Vault config")
	assert.Equal(t, FailClosed, c.Policy, "Vault config")
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
		if assert.ErrorContains(t, err, tc.want, "ConfigFromEnv") {
			assert.NotContains(t, err.Error(), "1234", "ConfigFromEnv: the error shows the PIN")
		}

	}
}
