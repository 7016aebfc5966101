package p11

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/miekg/pkcs11"
)

// MaxPINSource is the most a PIN source may hold, a final newline aside,
// before the token is known: a PIN file is read with this bound, whatever
// it is (a regular file, a FIFO, a systemd credential, /dev/zero). Once
// the token is found, its ulMaxPinLen bounds the PIN further.
const MaxPINSource = 256

// readPINFile reads the PIN in path, at most MaxPINSource bytes besides a
// final "\n" or "\r\n", which are dropped. Errors name the path, never the
// bytes. The caller wipes the PIN.
func readPINFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("p11: pin-source: %w", err)
	}
	defer f.Close()
	// Room for the bound, a final "\r\n", and one byte more to tell that
	// the source holds more than that.
	buf := make([]byte, MaxPINSource+3)
	n, err := io.ReadFull(f, buf)
	switch {
	case err == nil:
		clear(buf)
		return nil, fmt.Errorf("%w: pin-source %s holds more than %d bytes: not a PIN; name a file that holds the PIN alone", ErrLoginFatal, path, MaxPINSource)
	case !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF):
		clear(buf)
		return nil, fmt.Errorf("p11: pin-source: %w", err)
	}
	pin := buf[:n]
	for n > 0 && (pin[n-1] == '\n' || pin[n-1] == '\r') {
		n--
	}
	switch {
	case n == 0:
		clear(buf)
		return nil, fmt.Errorf("%w: pin-source %s is empty", ErrLoginFatal, path)
	case n > MaxPINSource:
		clear(buf)
		return nil, fmt.Errorf("%w: pin-source %s holds more than %d bytes: not a PIN; name a file that holds the PIN alone", ErrLoginFatal, path, MaxPINSource)
	}
	clear(buf[n:])
	return buf[:n:n], nil
}

// pinFlags are the token's view of its user PIN, from C_GetTokenInfo.
type pinFlags struct {
	countLow, finalTry, locked bool
	min, max                   uint // ulMinPinLen, ulMaxPinLen; 0 where not given
}

func pinFlagsOf(ti *pkcs11.TokenInfo) pinFlags {
	p := pinFlags{
		countLow: ti.Flags&pkcs11.CKF_USER_PIN_COUNT_LOW != 0,
		finalTry: ti.Flags&pkcs11.CKF_USER_PIN_FINAL_TRY != 0,
		locked:   ti.Flags&pkcs11.CKF_USER_PIN_LOCKED != 0,
	}
	// CK_UNAVAILABLE_INFORMATION is ^0; anything that large means no bound.
	if ti.MaxPinLen < 1<<16 {
		p.max = ti.MaxPinLen
	}
	if ti.MinPinLen < 1<<16 {
		p.min = ti.MinPinLen
	}
	return p
}

// checkLogin refuses a login that would lock the token or that the token
// would refuse for the PIN's length, before C_Login is called: a token whose
// user PIN is locked, or on its final try (one more wrong PIN locks it; a
// PIN that is right would do, but nothing here can tell), or a PIN longer
// or shorter than the token takes. The errors never show the PIN.
func checkLogin(label string, p pinFlags, pinLen int) error {
	switch {
	case p.locked:
		return fmt.Errorf("%w: token %q reports CKF_USER_PIN_LOCKED; not trying to log in; the token's security officer must reset the user PIN", ErrLoginFatal, label)
	case p.finalTry:
		return fmt.Errorf("%w: token %q reports CKF_USER_PIN_FINAL_TRY: one more wrong PIN locks it; not trying to log in; check the configured PIN, log in once with the HSM's own tools to reset the count, then start again", ErrLoginFatal, label)
	case p.max > 0 && uint(pinLen) > p.max:
		return fmt.Errorf("%w: the PIN is longer than token %q allows (ulMaxPinLen %d); not trying to log in; check pin-source, --pin-file or the PIN variable", ErrLoginFatal, label, p.max)
	case uint(pinLen) < p.min:
		return fmt.Errorf("%w: the PIN is shorter than token %q allows (ulMinPinLen %d); not trying to log in; check pin-source, --pin-file or the PIN variable", ErrLoginFatal, label, p.min)
	}
	return nil
}
