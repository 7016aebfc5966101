package p11

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// URI is a PKCS#11 URI, per RFC 7512: the path names a token (and, for other
// users of the URI, an object), the query names the library and the PIN.
//
//	pkcs11:token=vault;serial=a359c86d25489d00?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/hsm.pin
//
// An empty field is an absent attribute. Object attributes (object, type, id)
// are parsed and kept so that a URI naming a key can be reused, but they do
// not take part in token selection. Of the vendor-specific attributes
// ("x-...", RFC 7512, Section 2.3) this package defines one, the query
// attribute x-max-request (Config.MaxRequest); other vendor-specific query
// attributes are ignored, and vendor-specific path attributes are refused,
// because they could narrow the selection in a way this package cannot
// honour.
//
// String and the fmt verbs print the URI with pin-value redacted.
type URI struct {
	// Path attributes, per RFC 7512, Section 2.3.
	Token               string // token label
	Manufacturer        string // token manufacturer ID
	Serial              string // token serial number
	Model               string // token model
	LibraryManufacturer string
	LibraryDescription  string
	LibraryVersion      string // "M" or "M.N"
	SlotDescription     string
	SlotManufacturer    string
	SlotID              *uint
	Object              string // object label (not used here)
	Type                string // object class (not used here)
	ID                  []byte // object ID (not used here)

	// Query attributes, per RFC 7512, Section 2.3.
	ModulePath string // absolute path of the library, or of a directory holding it
	ModuleName string // library name, looked up in ModulePath when it is a directory
	PINSource  string // "file:/abs/path" or "/abs/path"
	PINValue   []byte // the PIN itself; never printed

	// Vendor-specific query attributes of this package.
	MaxRequest int // x-max-request: the largest C_GenerateRandom request, in bytes; 0 if absent
}

// uriAttrs lists the string attributes in the order String writes them.
var uriAttrs = [...]struct {
	name  string
	query bool
	field func(*URI) *string
}{
	{"token", false, func(u *URI) *string { return &u.Token }},
	{"manufacturer", false, func(u *URI) *string { return &u.Manufacturer }},
	{"serial", false, func(u *URI) *string { return &u.Serial }},
	{"model", false, func(u *URI) *string { return &u.Model }},
	{"library-manufacturer", false, func(u *URI) *string { return &u.LibraryManufacturer }},
	{"library-description", false, func(u *URI) *string { return &u.LibraryDescription }},
	{"library-version", false, func(u *URI) *string { return &u.LibraryVersion }},
	{"slot-description", false, func(u *URI) *string { return &u.SlotDescription }},
	{"slot-manufacturer", false, func(u *URI) *string { return &u.SlotManufacturer }},
	{"object", false, func(u *URI) *string { return &u.Object }},
	{"type", false, func(u *URI) *string { return &u.Type }},
	{"module-name", true, func(u *URI) *string { return &u.ModuleName }},
	{"module-path", true, func(u *URI) *string { return &u.ModulePath }},
	{"pin-source", true, func(u *URI) *string { return &u.PINSource }},
}

const uriScheme = "pkcs11:"

// uriMaxRequest names this package's vendor-specific query attribute.
const uriMaxRequest = "x-max-request"

// ParseURI parses a PKCS#11 URI, per RFC 7512, Section 2.3. It refuses
// duplicate path attributes (Section 2.3), duplicate standard query
// attributes, unknown attributes that are not vendor-specific, and a URI with
// both pin-value and pin-source (Section 2.4). Error messages name attributes,
// never their values.
func ParseURI(s string) (*URI, error) {
	// Step 1: the scheme, compared without regard to case (RFC 3986, Section 3.1).
	if len(s) < len(uriScheme) || !strings.EqualFold(s[:len(uriScheme)], uriScheme) {
		return nil, errors.New(`p11: URI must start with "pkcs11:"`)
	}
	path, query, _ := strings.Cut(s[len(uriScheme):], "?")
	if strings.ContainsRune(path, '#') || strings.ContainsRune(query, '#') {
		return nil, errors.New("p11: PKCS#11 URI must not have a fragment (#)")
	}
	u := new(URI)
	seen := make(map[string]bool)
	// Step 2: path attributes, separated by ";".
	if path != "" {
		for _, attr := range strings.Split(path, ";") {
			if err := u.set(attr, false, seen); err != nil {
				u.Wipe()
				return nil, err
			}
		}
	}
	// Step 3: query attributes, separated by "&".
	if query != "" {
		for _, attr := range strings.Split(query, "&") {
			if err := u.set(attr, true, seen); err != nil {
				u.Wipe()
				return nil, err
			}
		}
	}
	// Step 4: constraints between attributes (Section 2.4).
	if seen["pin-value"] && seen["pin-source"] {
		u.Wipe()
		return nil, errors.New("p11: URI has both pin-value and pin-source; give one")
	}
	return u, nil
}

// set parses one "name=value" attribute into u.
func (u *URI) set(attr string, query bool, seen map[string]bool) error {
	part := "path"
	if query {
		part = "query"
	}
	name, raw, ok := strings.Cut(attr, "=")
	if !ok || name == "" {
		return fmt.Errorf("p11: URI %s attribute %d bytes long is not name=value", part, len(attr))
	}
	switch {
	case name == uriMaxRequest && !query:
		return fmt.Errorf("p11: URI attribute %q is a query attribute: put it after \"?\"", name)
	case strings.HasPrefix(name, "x-") && !query:
		return fmt.Errorf("p11: URI path attribute %q is vendor-specific; this package cannot honour it", name)
	case strings.HasPrefix(name, "x-") && name != uriMaxRequest:
		return nil
	}
	if seen[name] {
		return fmt.Errorf("p11: URI attribute %q appears twice", name)
	}
	seen[name] = true
	switch {
	case name == "pin-value" && query:
		v, err := pctDecode(nil, raw)
		if err != nil {
			clear(v)
			return fmt.Errorf("p11: URI attribute %q: %w", name, err)
		}
		u.PINValue = nonEmpty(v)
		return nil
	case name == "id" && !query:
		v, err := pctDecode(nil, raw)
		if err != nil {
			return fmt.Errorf("p11: URI attribute %q: %w", name, err)
		}
		u.ID = nonEmpty(v)
		return nil
	}
	v, err := pctDecode(nil, raw)
	if err != nil {
		return fmt.Errorf("p11: URI attribute %q: %w", name, err)
	}
	if (name == "slot-id" && !query) || name == uriMaxRequest {
		if len(v) == 0 {
			return nil
		}
		// slot-id = 1*DIGIT, a CK_SLOT_ID; x-max-request likewise, a
		// number of bytes that Config.MaxRequest bounds.
		if v[0] == '+' || v[0] == '-' {
			return fmt.Errorf("p11: URI attribute %q must be a decimal number", name)
		}
		n, err := strconv.ParseUint(string(v), 10, strconv.IntSize)
		if err != nil {
			return fmt.Errorf("p11: URI attribute %q must be a decimal number", name)
		}
		if name == uriMaxRequest {
			if n < MinRequest || n > MaxChunk {
				return fmt.Errorf("p11: URI attribute %q must be %d to %d (bytes)", name, MinRequest, MaxChunk)
			}
			u.MaxRequest = int(n)
			return nil
		}
		slot := uint(n)
		u.SlotID = &slot
		return nil
	}
	for _, a := range uriAttrs {
		if a.name == name && a.query == query {
			*a.field(u) = string(v)
			return validateAttr(name, string(v))
		}
	}
	return fmt.Errorf("p11: URI %s attribute %q is not defined by RFC 7512", part, name)
}

// validateAttr checks the attributes with a grammar of their own.
func validateAttr(name, v string) error {
	if v == "" {
		return nil
	}
	switch name {
	case "library-version":
		// library-version = 1*DIGIT [ "." 1*DIGIT ]
		if _, _, err := parseVersion(v); err != nil {
			return fmt.Errorf("p11: URI attribute %q must be M or M.N", name)
		}
	case "type":
		switch v {
		case "public", "private", "cert", "secret-key", "data":
		default:
			return fmt.Errorf("p11: URI attribute %q must be public, private, cert, secret-key or data", name)
		}
	case "module-path":
		if !strings.HasPrefix(v, "/") {
			return fmt.Errorf("p11: URI attribute %q must be an absolute path", name)
		}
	}
	return nil
}

// parseVersion parses "M" or "M.N" with decimal byte-sized parts.
func parseVersion(v string) (major, minor byte, err error) {
	ms, ns, hasMinor := strings.Cut(v, ".")
	m, err := strconv.ParseUint(ms, 10, 8)
	if err != nil || ms[0] == '+' {
		return 0, 0, errors.New("bad version")
	}
	if !hasMinor {
		return byte(m), 0, nil
	}
	n, err := strconv.ParseUint(ns, 10, 8)
	if err != nil || ns[0] == '+' {
		return 0, 0, errors.New("bad version")
	}
	return byte(m), byte(n), nil
}

func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// Wipe zeroes and drops the PIN held by u. [URI.Config] copies the PIN, so
// a caller can wipe the URI as soon as it has its Config.
func (u *URI) Wipe() {
	clear(u.PINValue)
	u.PINValue = nil
}

// String returns the URI in canonical order with pin-value redacted.
func (u *URI) String() string { return string(u.appendTo(nil, true)) }

// GoString is String, so %#v does not print the PIN either.
func (u *URI) GoString() string { return u.String() }

// Format prints String for every verb, so no fmt verb prints the PIN.
func (u *URI) Format(f fmt.State, verb rune) { fmt.Fprint(f, u.String()) }

// appendTo writes the URI; with redact false it includes pin-value (tests
// use this to check that parsing round-trips).
func (u *URI) appendTo(dst []byte, redact bool) []byte {
	dst = append(dst, uriScheme...)
	inPath, inQuery := 0, 0
	name := func(n string, query bool) {
		switch {
		case query && inQuery == 0:
			dst = append(dst, '?')
		case query:
			dst = append(dst, '&')
		case inPath > 0:
			dst = append(dst, ';')
		}
		if query {
			inQuery++
		} else {
			inPath++
		}
		dst = append(append(dst, n...), '=')
	}
	for _, a := range uriAttrs {
		if v := *a.field(u); v != "" && !a.query {
			name(a.name, false)
			dst = pctEncode(dst, v, true)
		}
	}
	if u.SlotID != nil {
		name("slot-id", false)
		dst = strconv.AppendUint(dst, uint64(*u.SlotID), 10)
	}
	if len(u.ID) > 0 {
		name("id", false)
		dst = pctEncode(dst, u.ID, true)
	}
	for _, a := range uriAttrs {
		if v := *a.field(u); v != "" && a.query {
			name(a.name, true)
			dst = pctEncode(dst, v, false)
		}
	}
	if u.MaxRequest != 0 {
		name(uriMaxRequest, true)
		dst = strconv.AppendInt(dst, int64(u.MaxRequest), 10)
	}
	if len(u.PINValue) > 0 {
		name("pin-value", true)
		if redact {
			dst = append(dst, "REDACTED"...)
		} else {
			dst = pctEncode(dst, u.PINValue, false)
		}
	}
	return dst
}
