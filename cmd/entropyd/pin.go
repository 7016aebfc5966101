package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxPINFile bounds the read of a PIN file.
const maxPINFile = 4096

// checkPINFile reports, naming the file, why the file --pin-file names
// cannot hold a PIN: it cannot be read, or it is empty (a final newline
// aside). hsmrand reads it again at each login; this check lets entropyd's
// error name the option the user gave rather than hsmrand's pin-source.
func checkPINFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err // names the path
	}
	defer f.Close()
	buf := make([]byte, maxPINFile+1)
	defer clear(buf)
	n, err := io.ReadFull(f, buf)
	switch {
	case err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF):
		return err
	case n > maxPINFile:
		return fmt.Errorf("%s is longer than %d bytes: not a PIN", path, maxPINFile)
	case len(bytes.TrimRight(buf[:n], "\r\n")) == 0:
		return fmt.Errorf("%s is empty", path)
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
	msg := err.Error()
	if !strings.Contains(msg, "CKR_PIN_") && !strings.Contains(msg, "CKR_USER_NOT_LOGGED_IN") {
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
