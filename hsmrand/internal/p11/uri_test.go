package p11

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseURI(t *testing.T) {
	slot := uint(3)
	cases := []struct {
		in   string
		want URI
	}{
		{"pkcs11:", URI{}},
		// RFC 7512, Section 3, examples.
		{"pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=?pin-source=file:/etc/token_pin",
			URI{Token: "The Software PKCS#11 Softtoken", Manufacturer: "Snake Oil, Inc.", Model: "1.0", Object: "my-certificate", Type: "cert",
				ID: []byte{0x69, 0x95, 0x3e, 0x5c, 0xf4, 0xbd, 0xec, 0x91}, PINSource: "file:/etc/token_pin"}},
		{"pkcs11:slot-description=Sun%20Metaslot", URI{SlotDescription: "Sun Metaslot"}},
		{"pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;library-version=1.23",
			URI{LibraryManufacturer: "Snake Oil, Inc.", LibraryDescription: "Soft Token Library", LibraryVersion: "1.23"}},
		{"pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.?pin-value=the-pin",
			URI{Token: "Software PKCS#11 softtoken", Manufacturer: "Snake Oil, Inc.", PINValue: []byte("the-pin")}},
		{"pkcs11:token=a+b;slot-id=3?module-path=/usr/lib/p11/lib.so&x-vendor=1&module-name=lib",
			URI{Token: "a+b", SlotID: &slot, ModulePath: "/usr/lib/p11/lib.so", ModuleName: "lib"}},
		{"PKCS11:token=vault", URI{Token: "vault"}},
		// This package's vendor-specific query attribute.
		{"pkcs11:token=kmes?x-max-request=4096&module-path=/l.so", URI{Token: "kmes", ModulePath: "/l.so", MaxRequest: 4096}},
		{"pkcs11:?x-max-request=%33%32", URI{MaxRequest: 32}},
		{"pkcs11:?x-max-request=65536&x-vendor=1", URI{MaxRequest: MaxChunk}},
		{"pkcs11:?x-max-request=", URI{}},
	}
	for _, c := range cases {
		u, err := ParseURI(c.in)
		if !assert.NoError(t, err, "ParseURI(%q)", c.in) {
			continue
		}
		assert.Equal(t, c.want, *u, "ParseURI(%q) = %q, want %q", c.in, u.appendTo(nil, false), c.want.appendTo(nil, false))
	}
}

func TestParseURIErrors(t *testing.T) {
	const pin = "s3cret-PIN-value"
	cases := []struct{ in, want string }{
		{"pkcs12:token=a", `start with "pkcs11:"`},
		{"pkcs11:token=a;token=b", `"token" appears twice`},
		{"pkcs11:token=a?module-path=/a&module-path=/b", `"module-path" appears twice`},
		{"pkcs11:colour=blue", `"colour" is not defined`},
		{"pkcs11:x-partition=7", "vendor-specific"},
		{"pkcs11:token", "not name=value"},
		{"pkcs11:token=a;;serial=b", "not name=value"},
		{"pkcs11:slot-id=-1", "decimal number"},
		{"pkcs11:slot-id=99999999999999999999999", "decimal number"},
		{"pkcs11:library-version=1.x", "M or M.N"},
		{"pkcs11:type=key", "public, private"},
		{"pkcs11:token=a%2", "percent-encoding"},
		{"pkcs11:?module-path=lib.so", "absolute"},
		{"pkcs11:token=a#frag", "fragment"},
		{"pkcs11:token=a?pin-value=" + pin + "&pin-source=file:/x", "both pin-value and pin-source"},
		{"pkcs11:token=a?pin-value=" + pin + "%zz", "percent-encoding"},
		{"pkcs11:token=a?pin-value=" + pin + "&pin-value=" + pin, "appears twice"},
		{"pkcs11:token=a?pin-value=" + pin + "&bogus=1", `"bogus" is not defined`},
		{"pkcs11:x-max-request=4096", `"x-max-request" is a query attribute`},
		{"pkcs11:?x-max-request=4096&x-max-request=2048", `"x-max-request" appears twice`},
		{"pkcs11:?x-max-request=0", "32 to 65536"},
		{"pkcs11:?x-max-request=31", "32 to 65536"},
		{"pkcs11:?x-max-request=65537", "32 to 65536"},
		{"pkcs11:?x-max-request=99999999999999999999999", "decimal number"},
		{"pkcs11:?x-max-request=-64", "decimal number"},
		{"pkcs11:?x-max-request=4k", "decimal number"},
	}
	for _, c := range cases {
		_, err := ParseURI(c.in)
		if !assert.ErrorContains(t, err, c.want, "ParseURI(%q)", c.in) {
			continue
		}
		assert.True(t, strings.HasPrefix(err.Error(), "p11: "), "ParseURI(%q) error %q must start with p11: ", c.in, err)
		assert.NotContains(t, err.Error(), pin, "ParseURI(%q): the error holds the PIN", c.in)
	}
}

// TestSecretsNotPrinted: no fmt verb prints a PIN from a URI or a Config.
func TestSecretsNotPrinted(t *testing.T) {
	const pin = "s3cret-PIN-value"
	u, err := ParseURI("pkcs11:token=a?module-path=/lib.so&pin-value=" + pin)
	require.NoError(t, err)
	cfg, err := u.Config()
	require.NoError(t, err)
	u.Wipe()
	cfg2 := Config{ModulePath: "/lib.so", PIN: []byte(pin)}
	for _, v := range []any{u, *u, cfg, &cfg, cfg2, &cfg2} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
			s := fmt.Sprintf(verb, v)
			assert.NotContains(t, s, pin, "Sprintf(%q, %T) holds the PIN", verb, v)
			assert.NotContains(t, s, fmt.Sprintf("%x", pin), "Sprintf(%q, %T) holds the PIN in hex", verb, v)
		}
	}
	assert.Equal(t, []byte(pin), cfg.PIN, "Config did not copy the PIN before the URI was wiped")
	got := cfg.String()
	assert.Contains(t, got, "pin=REDACTED", "Config.String()")
	assert.Contains(t, got, `token="a"`, "Config.String()")
}

func TestURIConfigModule(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "libvendor2.so.1")
	require.NoError(t, os.WriteFile(lib, nil, 0o600))
	for _, c := range []struct{ uri, want, err string }{
		{"pkcs11:?module-path=" + lib, lib, ""},
		{"pkcs11:?module-path=" + dir + "&module-name=vendor2", lib, ""},
		{"pkcs11:?module-path=" + dir + "&module-name=vendor", "", "no library named"},
		{"pkcs11:?module-path=" + dir, "", "add module-name"},
		{"pkcs11:?module-name=vendor2", "", "without module-path"},
		{"pkcs11:token=a", "", "names no module"},
	} {
		u, err := ParseURI(c.uri)
		require.NoError(t, err)
		cfg, err := u.Config()
		if c.err != "" {
			assert.ErrorContains(t, err, c.err, c.uri)
		} else {
			assert.NoError(t, err, c.uri)
			assert.Equal(t, c.want, cfg.ModulePath, c.uri)
		}
	}
}

func TestLoadPIN(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	crlf := write("crlf", "1234\r\n")
	empty := write("empty", "\n")
	for _, c := range []struct {
		src, want, err string
	}{
		{"file:" + crlf, "1234", ""},
		{crlf, "1234", ""},
		{"file://" + crlf, "1234", ""},
		{"file:" + empty, "", "is empty"},
		{"|/bin/pin-helper", "", "must be file:"},
		{"file:relative", "", "absolute"},
		{"file:" + filepath.Join(dir, "missing"), "", "no such file"},
		{"s3cret-pin-9876", "", "not shown"},
		{"file:s3cret-pin-9876", "", "not shown"},
	} {
		cfg := Config{PINSource: c.src}
		pin, err := cfg.loadPIN()
		if c.err != "" {
			assert.ErrorContains(t, err, c.err, c.src)
		} else {
			assert.NoError(t, err, c.src)
			assert.Equal(t, c.want, string(pin), c.src)
		}
		if err != nil {
			assert.NotContains(t, err.Error(), "s3cret", "%s: the error echoes what may be a PIN", c.src)
		}
	}
}

func TestConfigFromVault(t *testing.T) {
	env := map[string]string{VaultEnvTokenLabel: "from-env", VaultEnvSlot: "0x10"}
	getenv := func(k string) string { return env[k] }
	params := map[string]string{"lib": "/opt/fx/libfxpkcs11.so", "slot": "5", "token_label": "from-stanza", "pin": "1234", "key_label": "ignored"}
	cfg, err := ConfigFromVault(params, getenv)
	require.NoError(t, err)
	assert.Equal(t, "/opt/fx/libfxpkcs11.so", cfg.ModulePath)
	assert.Equal(t, "from-env", cfg.TokenLabel, "env must override the stanza")
	if assert.NotNil(t, cfg.SlotID, "slot") {
		assert.Equal(t, uint(16), *cfg.SlotID, "env must override the stanza")
	}
	assert.Equal(t, []byte("1234"), cfg.PIN, "the stanza's PIN")
	for _, slot := range []string{"010x", "-1", "0x", "+5", "abc"} {
		_, err := ConfigFromVault(map[string]string{"lib": "/l.so", "slot": slot}, nil)
		assert.Error(t, err, "slot %q accepted", slot)
	}
	cfg, err = ConfigFromVault(map[string]string{"lib": "/l.so", "slot": "010"}, nil)
	if assert.NoError(t, err, `slot "010"`) && assert.NotNil(t, cfg.SlotID, `slot "010"`) {
		assert.Equal(t, uint(10), *cfg.SlotID, `slot "010" must be decimal 10`)
	}
	_, err = ConfigFromVaultEnv(func(string) string { return "" })
	assert.ErrorContains(t, err, VaultEnvLib, "no library")
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "needs a module path"},
		{Config{ModulePath: "lib.so"}, "absolute"},
		{Config{ModulePath: "/l.so", PIN: []byte("1"), PINSource: "/p"}, "both a PIN and a PIN source"},
		{Config{ModulePath: "/l.so", TokenOptions: TokenOptions{MaxSessions: -1}}, "negative"},
		{Config{ModulePath: "/l.so", LibraryVersion: "x"}, "M or M.N"},
		{Config{ModulePath: "/l.so", TokenOptions: TokenOptions{MaxRequest: MinRequest - 1}}, "want 0 (the default, 65536) or 32 to 65536"},
		{Config{ModulePath: "/l.so", TokenOptions: TokenOptions{MaxRequest: MaxChunk + 1}}, "want 0 (the default, 65536) or 32 to 65536"},
		{Config{ModulePath: "/l.so", TokenOptions: TokenOptions{MaxRequest: -1}}, "want 0 (the default, 65536) or 32 to 65536"},
	} {
		assert.ErrorContains(t, c.cfg.validate(), c.want, "%v", c.cfg)
	}
}

// FuzzParseURI: ParseURI never panics, a parsed URI prints (unredacted) to
// a string that parses back to the same URI, and with a PIN added to the
// text neither the error nor the redacted String holds the PIN.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=?pin-source=file:/etc/token_pin",
		"pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;library-version=1.23",
		"pkcs11:token=vault;serial=a359c86d25489d00;slot-id=625515776?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/x",
		"pkcs11:slot-description=Sun%20Metaslot?x-vendor=a&module-name=softhsm2",
		"pkcs11:token=a;token=b",
		"pkcs11:token=a%2",
		"pkcs11:token=kmes?module-path=/l.so&x-max-request=4096",
		"pkcs11:?x-max-request=%34%30%39%36&x-vendor=1",
		"pkcs11:?x-max-request=0031",
		"pkcs11:x-max-request=64",
		"pkcs11:?x-max-request=64&x-max-request=64",
	} {
		f.Add(s)
	}
	// The PIN is fixed: error messages quote attribute names from the
	// input, so a fuzzed PIN could match them by chance.
	const pin = "Zq7-PIN-marker-91x"
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err == nil {
			text := string(u.appendTo(nil, false))
			again, err := ParseURI(text)
			require.NoError(t, err, "%q: reparse of %q", s, text)
			require.Equal(t, u, again, "%q: round trip %q gave %q", s, text, again.appendTo(nil, false))
		}
		if strings.Contains(s, "PIN-marker") {
			return
		}
		sep := "?"
		if strings.Contains(s, "?") {
			sep = "&"
		}
		u, err = ParseURI(s + sep + "pin-value=" + pin)
		if err != nil {
			require.NotContains(t, err.Error(), "PIN-marker", "the error holds the PIN")
		} else {
			require.NotContains(t, u.String(), "PIN-marker", "String() holds the PIN")
			require.NotContains(t, fmt.Sprintf("%#v %+v", u, *u), "PIN-marker", "fmt.Sprintf(\"%#v %+v\") holds the PIN")
		}

	})
}
