package p11

import "errors"

// errPercent is returned for a malformed %XX escape. It names no value, so a
// PIN in the URI cannot reach an error message.
var errPercent = errors.New("malformed percent-encoding")

// pctDecode appends the percent-decoded s to dst, per RFC 3986, Section 2.1.
// "+" stays "+" (RFC 7512 values are not form-encoded).
func pctDecode(dst []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			dst = append(dst, c)
			continue
		}
		if i+2 >= len(s) {
			return dst, errPercent
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return dst, errPercent
		}
		dst = append(dst, hi<<4|lo)
		i += 2
	}
	return dst, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// pctEncode appends v to dst, escaping every byte outside RFC 7512's
// pk11-pchar (inPath) or pk11-qchar (!inPath) set, per RFC 7512, Section 2.3.
// "=" is escaped too although it is allowed, so that values read unambiguously.
func pctEncode[T string | []byte](dst []byte, v T, inPath bool) []byte {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(v); i++ {
		c := v[i]
		if unreserved(c) || resAvail(c) || (inPath && c == '&') || (!inPath && (c == '/' || c == '?' || c == '|')) {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&0xf])
	}
	return dst
}

// unreserved is RFC 3986's unreserved set.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// resAvail is RFC 7512's pk11-res-avail without "=".
func resAvail(c byte) bool {
	switch c {
	case ':', '[', ']', '@', '!', '$', '\'', '(', ')', '*', '+', ',':
		return true
	}
	return false
}
