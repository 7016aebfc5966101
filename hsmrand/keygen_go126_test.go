//go:build go1.26

package hsmrand

// keygenNeedsGODEBUG reports whether crypto/ecdsa and crypto/rsa ignore the
// reader they are given unless GODEBUG=cryptocustomrand=1, as from Go 1.26.
const keygenNeedsGODEBUG = true
