//go:build go1.26

package hsmrand

import "crypto/fips140"

// customRandKnown: Go 1.26 has GODEBUG=cryptocustomrand, and without it
// its key generation ignores the reader it is passed.
const customRandKnown = true

// fipsOnly reports whether Go refuses every reader but its own for key
// generation (GODEBUG=fips140=only, not bypassed).
func fipsOnly() bool { return fips140.Enforced() }
