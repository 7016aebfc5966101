package hsmrand

import (
	"crypto/fips140"
	"errors"
)

// checkInstall refuses an Install that would set up key generation Go
// refuses, or that would draw keys from the Reader in FIPS 140-3 mode
// without being asked to. installs.mu is held.
func checkInstall(o InstallOptions) error {
	switch {
	case fipsOnly():
		return errors.New("hsmrand: Install: GODEBUG=fips140=only: Go allows only its own FIPS 140-3 generator in this mode, and its key generation would refuse a replaced crypto/rand.Reader; crypto/rand.Reader is left alone. Read the Reader directly where HSM randomness is required, or have entropyd feed the kernel from the HSM, which seeds Go's generator")
	case o.KeyGeneration:
		return checkCustomRandEnv()
	case fips140.Enabled() && keysFollowReader():
		return errors.New("hsmrand: Install: in FIPS 140-3 mode (GODEBUG=fips140=on) Go's key generation would draw from the installed Reader (Go before 1.26, or cryptocustomrand=1 in effect), outside Go's FIPS 140-3 module; set InstallOptions.KeyGeneration to accept that, or leave crypto/rand.Reader to Go")
	}
	return nil
}
