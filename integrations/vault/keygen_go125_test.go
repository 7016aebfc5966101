//go:build !go1.26

package vault

// Go 1.25 has no cryptocustomrand setting: crypto/ecdsa and crypto/rsa use
// the reader they are given, whatever GODEBUG says. And its RSA key
// generation calls randutil.MaybeReadByte before every read of a custom
// reader (crypto/internal/fips140/drbg.ReadWithReader), so keys made from
// identical streams differ: whether they are made of the stream shows in what
// they draw (checkNoDRBG), not in their determinism. ECDSA key generation
// calls it twice (ecdsa.GenerateKey and ReadWithReader): up to three keys
// from identical streams.
const (
	keygenNeedsGODEBUG    = false
	rsaKeygenReproducible = false
	maxReaderKeys         = 3
)
