package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hsmentropy/hsmentropy/hsmrand"
)

// checkPINFile reports, naming the file, why the file --pin-file names
// cannot hold a PIN: it cannot be read (a usage error), or it is empty or
// holds more than hsmrand.MaxPIN bytes (a final newline aside), which is a
// login failure (hsmrand.ErrLogin: exit status 3), as when hsmrand reads it.
// hsmrand reads it again at each login, with the same bound; this check
// lets entropyd's error name the option the user gave rather than
// hsmrand's pin-source. The bytes read are wiped and never shown.
func checkPINFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err // names the path
	}
	defer f.Close()
	buf := make([]byte, hsmrand.MaxPIN+2) // room for a final CR LF
	defer clear(buf)
	n, err := io.ReadFull(f, buf)
	pin := bytes.TrimRight(buf[:n], "\r\n")
	switch {
	case err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF):
		return err
	case len(pin) > hsmrand.MaxPIN || n == len(buf) && len(pin) == n:
		return fmt.Errorf("%w: %s holds more than %d bytes: not a PIN", hsmrand.ErrLogin, path, hsmrand.MaxPIN)
	case len(pin) == 0:
		return fmt.Errorf("%w: %s is empty", hsmrand.ErrLogin, path)
	}
	return nil
}

// pinOrigin says where entropyd took the token's PIN from, as the user gave
// it, or "" when it gave none (the URI's pin-source, with --pkcs11-from-env
// VAULT_HSM_PIN, or no login).
func (c *runConfig) pinOrigin(envPIN bool) string {
	switch {
	case c.pinFile != "":
		return c.from("pin-file") + " " + c.pinFile
	case envPIN:
		return pinEnv
	}
	return ""
}

// pinHint adds to a login error where the PIN came from and how to give
// it. The PKCS#11 return code names the failure (the error carries it).
func (c *runConfig) pinHint(err error, envPIN bool) string {
	if !pinRefused(err) {
		return ""
	}
	if o := c.pinOrigin(envPIN); o != "" {
		return "; the PIN entropyd presented came from " + o + ": check it"
	}
	if c.pkcs11FromEnv {
		return "; entropyd gave no PIN of its own (--pin-file or " + pinEnv + "): the PIN came from VAULT_HSM_PIN or HSMRAND_URI's pin-source, if any"
	}
	return "; entropyd gave no PIN of its own: give it with --pin-file or " + pinEnv + " (or pin-source in the URI)"
}

// pinRefused reports whether a PKCS#11 call in err's tree (every token's,
// for a failover list) returned CKR_PIN_* or CKR_USER_NOT_LOGGED_IN.
func pinRefused(err error) bool {
	if pe, ok := err.(*hsmrand.PKCS11Error); ok {
		name := hsmrand.CKRName(pe.Code)
		return strings.HasPrefix(name, "CKR_PIN_") || name == "CKR_USER_NOT_LOGGED_IN"
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return pinRefused(u.Unwrap())
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if pinRefused(e) {
				return true
			}
		}
	}
	return false
}
