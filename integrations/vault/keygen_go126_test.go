//go:build go1.26

package vault

// From Go 1.26 crypto/ecdsa and crypto/rsa ignore a custom reader unless
// GODEBUG=cryptocustomrand=1; with it, an RSA key made from identical
// streams is the same key up to one randutil.MaybeReadByte: at most two
// keys from identical streams.
const (
	keygenNeedsGODEBUG    = true
	rsaKeygenReproducible = true
	maxReaderKeys         = 2
)
