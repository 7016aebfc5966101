//go:build !go1.26

package hsmrand

// keygenNeedsGODEBUG reports whether crypto/ecdsa and crypto/rsa ignore the
// reader they are given unless GODEBUG=cryptocustomrand=1. Go 1.25 has no
// such setting: they use the given reader, whatever GODEBUG says.
const keygenNeedsGODEBUG = false
