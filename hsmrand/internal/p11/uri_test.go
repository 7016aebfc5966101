package p11

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
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
		if err != nil {
			t.Errorf("ParseURI(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(*u, c.want) {
			t.Errorf("ParseURI(%q) = %#v, want %#v", c.in, u.appendTo(nil, false), c.want.appendTo(nil, false))
		}
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
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseURI(%q) = %v, want an error containing %q", c.in, err, c.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), "p11: ") || strings.Contains(err.Error(), pin) {
			t.Errorf("ParseURI(%q) error %q must start with p11: and not hold the PIN", c.in, err)
		}
	}
}

// TestSecretsNotPrinted: no fmt verb prints a PIN from a URI or a Config.
func TestSecretsNotPrinted(t *testing.T) {
	const pin = "s3cret-PIN-value"
	u, err := ParseURI("pkcs11:token=a?module-path=/lib.so&pin-value=" + pin)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := u.Config()
	if err != nil {
		t.Fatal(err)
	}
	u.Wipe()
	cfg2 := Config{ModulePath: "/lib.so", PIN: []byte(pin)}
	for _, v := range []any{u, *u, cfg, &cfg, cfg2, &cfg2} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
			if s := fmt.Sprintf(verb, v); strings.Contains(s, pin) || strings.Contains(s, fmt.Sprintf("%x", pin)) {
				t.Errorf("Sprintf(%q, %T) = %q holds the PIN", verb, v, s)
			}
		}
	}
	if !bytes.Equal(cfg.PIN, []byte(pin)) {
		t.Errorf("Config did not copy the PIN before the URI was wiped")
	}
	if got := cfg.String(); !strings.Contains(got, "pin=REDACTED") || !strings.Contains(got, `token="a"`) {
		t.Errorf("Config.String() = %q", got)
	}
}

func TestURIConfigModule(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "libvendor2.so.1")
	if err := os.WriteFile(lib, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ uri, want, err string }{
		{"pkcs11:?module-path=" + lib, lib, ""},
		{"pkcs11:?module-path=" + dir + "&module-name=vendor2", lib, ""},
		{"pkcs11:?module-path=" + dir + "&module-name=vendor", "", "no library named"},
		{"pkcs11:?module-path=" + dir, "", "add module-name"},
		{"pkcs11:?module-name=vendor2", "", "without module-path"},
		{"pkcs11:token=a", "", "names no module"},
	} {
		u, err := ParseURI(c.uri)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := u.Config()
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: got %v, want error %q", c.uri, err, c.err)
		case c.err == "" && (err != nil || cfg.ModulePath != c.want):
			t.Errorf("%s: got %q, %v; want %q", c.uri, cfg.ModulePath, err, c.want)
		}
	}
}

func TestLoadPIN(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
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
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: got %v, want error %q", c.src, err, c.err)
		case c.err == "" && (err != nil || string(pin) != c.want):
			t.Errorf("%s: got %q, %v; want %q", c.src, pin, err, c.want)
		case err != nil && strings.Contains(err.Error(), "s3cret"):
			t.Errorf("%s: the error echoes what may be a PIN: %v", c.src, err)
		}
	}
}

func TestConfigFromVault(t *testing.T) {
	env := map[string]string{VaultEnvTokenLabel: "from-env", VaultEnvSlot: "0x10"}
	getenv := func(k string) string { return env[k] }
	params := map[string]string{"lib": "/opt/fx/libfxpkcs11.so", "slot": "5", "token_label": "from-stanza", "pin": "1234", "key_label": "ignored"}
	cfg, err := ConfigFromVault(params, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ModulePath != "/opt/fx/libfxpkcs11.so" || cfg.TokenLabel != "from-env" || cfg.SlotID == nil || *cfg.SlotID != 16 || string(cfg.PIN) != "1234" {
		t.Errorf("got %v slot %v pin set %v; env must override the stanza", cfg, cfg.SlotID, cfg.PIN != nil)
	}
	for _, slot := range []string{"010x", "-1", "0x", "+5", "abc"} {
		if _, err := ConfigFromVault(map[string]string{"lib": "/l.so", "slot": slot}, nil); err == nil {
			t.Errorf("slot %q accepted", slot)
		}
	}
	if cfg, err := ConfigFromVault(map[string]string{"lib": "/l.so", "slot": "010"}, nil); err != nil || *cfg.SlotID != 10 {
		t.Errorf(`slot "010" must be decimal 10: %v`, err)
	}
	if _, err := ConfigFromVaultEnv(func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), VaultEnvLib) {
		t.Errorf("no library: got %v", err)
	}
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
		if err := c.cfg.validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want %q", c.cfg, err, c.want)
		}
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
			if err != nil {
				t.Fatalf("%q: reparse of %q: %v", s, text, err)
			}
			if !reflect.DeepEqual(u, again) {
				t.Fatalf("%q: round trip %q gave %q", s, text, again.appendTo(nil, false))
			}
		}
		if strings.Contains(s, "PIN-marker") {
			return
		}
		sep := "?"
		if strings.Contains(s, "?") {
			sep = "&"
		}
		u, err = ParseURI(s + sep + "pin-value=" + pin)
		if err != nil && strings.Contains(err.Error(), "PIN-marker") {
			t.Fatalf("error %q holds the PIN", err)
		}
		if err == nil && (strings.Contains(u.String(), "PIN-marker") || strings.Contains(fmt.Sprintf("%#v %+v", u, *u), "PIN-marker")) {
			t.Fatalf("String() %q holds the PIN", u.String())
		}
	})
}
