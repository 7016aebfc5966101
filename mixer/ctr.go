package mixer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"errors"
	"fmt"
)

// Parameters of CTR_DRBG with AES-256, per SP 800-90A Rev. 1, Table 3.
const (
	// KeyLen is keylen, the AES-256 key length in bytes. It equals the
	// security strength, 256 bits.
	KeyLen = 256 / 8
	// BlockLen is blocklen (= outlen = ctr_len), the AES block length in bytes.
	BlockLen = aes.BlockSize
	// SeedLen is seedlen = keylen + blocklen, 384 bits.
	SeedLen = KeyLen + BlockLen
	// MaxRequest is max_number_of_bits_per_request, 2^19 bits, in bytes.
	MaxRequest = (1 << 19) / 8
	// ReseedInterval is reseed_interval, the number of Generate requests
	// allowed between reseeds.
	ReseedInterval = 1 << 48

	// MinEntropyLen is the minimum entropy input length with the derivation
	// function: security_strength bits. Without it the length is exactly SeedLen.
	MinEntropyLen = KeyLen
	// MinNonceLen is the shortest nonce accepted with the derivation function:
	// security_strength/2 bits, the entropy or uniqueness Section 8.6.7 asks of it.
	MinNonceLen = KeyLen / 2
	// MaxInputLen bounds, with the derivation function, each of the entropy
	// input, nonce, personalization string and additional input. The standard
	// allows 2^35 bits; our bound keeps the df input length L well inside its
	// 32-bit field.
	MaxInputLen = 1 << 16
)

// ErrReseedRequired is returned by [CTR.Generate] once ReseedInterval requests
// have been served since the last instantiation or reseed, per SP 800-90A
// Rev. 1, Section 10.2.1.5.1 Step 1. Call [CTR.Reseed] and retry.
var ErrReseedRequired = errors.New("mixer: CTR_DRBG reseed required")

var errCTRWiped = errors.New("mixer: CTR_DRBG instance was wiped")

// CTR is an SP 800-90A Rev. 1 CTR_DRBG instantiated with AES-256, with or
// without the derivation function (Block_Cipher_df, Section 10.3.2).
//
// Prediction resistance is the caller's to request: call [CTR.Reseed] with
// fresh entropy input before [CTR.Generate], as the Generate function of
// Section 9.3.1 Step 7 does. A CTR is not safe for concurrent use.
//
// K is kept as bytes and its AES key schedule is built only when needed.
// The public crypto/aes API cannot re-key or zero a cipher, so each new K
// costs one allocation (aes.NewCipher), plus one for cipher.NewCTR on the
// streaming path of Generate; [CTR.Wipe] drops the references to those
// schedules but cannot zero them.
type CTR struct {
	key [KeyLen]byte   // K
	v   [BlockLen]byte // V
	// block is AES-256 keyed with key, or nil when not yet built.
	block cipher.Block
	// bcc is the scratch space of Block_Cipher_df; bcc.key is nil without df.
	bcc bccChains

	reseedCounter uint64
	df            bool
	wiped         bool

	// provided holds provided_data for CTR_DRBG_Update: the seed material,
	// or the additional input padded or derived to seedlen.
	provided [SeedLen]byte
	// temp is temp of CTR_DRBG_Update.
	temp [SeedLen]byte
	// pad absorbs the keystream left in the last partial output block.
	pad [BlockLen]byte
}

// NewCTR instantiates a CTR_DRBG with AES-256 (SP 800-90A Rev. 1, §10.2.1.3).
// df selects the derivation function (§10.3.2). Without df, entropy must be 48 bytes,
// nonce empty, and personalization at most 48 bytes.
//
// With df, entropy must be MinEntropyLen to MaxInputLen bytes, the nonce
// MinNonceLen to MaxInputLen bytes, and personalization at most MaxInputLen
// bytes. The inputs are not retained; the caller wipes them.
//
// The first call runs a known-answer self-test of both modes; if it fails,
// every call returns an error.
func NewCTR(entropy, nonce, personalization []byte, df bool) (*CTR, error) {
	return newCTR(ctrSelfTest, entropy, nonce, personalization, df)
}

func newCTR(selfTest func() error, entropy, nonce, personalization []byte, df bool) (*CTR, error) {
	if err := selfTest(); err != nil {
		return nil, err
	}
	return instantiate(entropy, nonce, personalization, df)
}

// instantiate is the Instantiate function, per SP 800-90A Rev. 1, Section 9.1,
// without the self-test.
func instantiate(entropy, nonce, personalization []byte, df bool) (*CTR, error) {
	// Check the input lengths against Table 3, as Section 9.1 asks.
	if err := checkEntropy(entropy, df); err != nil {
		return nil, err
	}
	if df {
		if len(nonce) < MinNonceLen || len(nonce) > MaxInputLen {
			return nil, fmt.Errorf("mixer: CTR_DRBG nonce is %d bytes, need %d to %d", len(nonce), MinNonceLen, MaxInputLen)
		}
	} else if len(nonce) != 0 {
		return nil, fmt.Errorf("mixer: CTR_DRBG without derivation function takes no nonce, got %d bytes", len(nonce))
	}
	if err := checkInput("personalization string", personalization, df); err != nil {
		return nil, err
	}

	d := &CTR{df: df}
	if df {
		d.bcc.key = newAES(dfKey())
		d.instantiateDF(entropy, nonce, personalization)
	} else {
		d.instantiateNoDF(entropy, personalization)
	}
	return d, nil
}

// instantiateNoDF is CTR_DRBG_Instantiate_algorithm, per SP 800-90A Rev. 1,
// Section 10.2.1.3.1.
func (d *CTR) instantiateNoDF(entropy, personalization []byte) {
	// Steps 1-3. Pad the personalization string with zeros to seedlen and
	// XOR it into the entropy input.
	copy(d.provided[:], personalization)
	subtle.XORBytes(d.provided[:], d.provided[:], entropy)

	// Steps 4-5. Key = 0^keylen, V = 0^blocklen.
	clear(d.key[:])
	clear(d.v[:])
	d.block = nil

	// Step 6.
	d.update(&d.provided)
	clear(d.provided[:])

	// Step 7.
	d.reseedCounter = 1
}

// instantiateDF is CTR_DRBG_Instantiate_algorithm, per SP 800-90A Rev. 1,
// Section 10.2.1.3.2.
func (d *CTR) instantiateDF(entropy, nonce, personalization []byte) {
	// Steps 1-2. seed_material = Block_Cipher_df(entropy_input || nonce ||
	// personalization_string, seedlen).
	blockCipherDF(&d.provided, &d.bcc, entropy, nonce, personalization)

	// Steps 3-4.
	clear(d.key[:])
	clear(d.v[:])
	d.block = nil

	// Step 5.
	d.update(&d.provided)
	clear(d.provided[:])

	// Step 6.
	d.reseedCounter = 1
}

// Reseed is the Reseed function, per SP 800-90A Rev. 1, Section 9.2, with
// CTR_DRBG_Reseed_algorithm of Section 10.2.1.4. The entropy input and
// additional input obey the same lengths as in [NewCTR]; additional may be empty.
func (d *CTR) Reseed(entropy, additional []byte) error {
	if d.wiped {
		return errCTRWiped
	}
	// Check the input lengths against Table 3, as Section 9.2 asks.
	if err := checkEntropy(entropy, d.df); err != nil {
		return err
	}
	if err := checkInput("additional input", additional, d.df); err != nil {
		return err
	}
	if d.df {
		d.reseedDF(entropy, additional)
	} else {
		d.reseedNoDF(entropy, additional)
	}
	return nil
}

// reseedNoDF is CTR_DRBG_Reseed_algorithm, per SP 800-90A Rev. 1,
// Section 10.2.1.4.1.
func (d *CTR) reseedNoDF(entropy, additional []byte) {
	// Steps 1-3. Pad the additional input with zeros to seedlen and XOR it
	// into the entropy input.
	clear(d.provided[:])
	copy(d.provided[:], additional)
	subtle.XORBytes(d.provided[:], d.provided[:], entropy)

	// Step 4.
	d.update(&d.provided)
	clear(d.provided[:])

	// Step 5.
	d.reseedCounter = 1
}

// reseedDF is CTR_DRBG_Reseed_algorithm, per SP 800-90A Rev. 1,
// Section 10.2.1.4.2.
func (d *CTR) reseedDF(entropy, additional []byte) {
	// Steps 1-2.
	blockCipherDF(&d.provided, &d.bcc, entropy, additional)

	// Step 3.
	d.update(&d.provided)
	clear(d.provided[:])

	// Step 4.
	d.reseedCounter = 1
}

// ReseedCounter returns reseed_counter: 1 after instantiation or reseed,
// plus the number of Generate requests since. Generate fails with
// [ErrReseedRequired] once it exceeds ReseedInterval. It is 0 after Wipe.
func (d *CTR) ReseedCounter() uint64 {
	return d.reseedCounter
}

// Wipe zeroes K, V and the scratch buffers and makes the instance unusable:
// later calls return an error. This is Uninstantiate, per SP 800-90A Rev. 1,
// Section 9.4. The AES key schedules inside crypto/aes cannot be zeroed
// through its API; Wipe drops them for the garbage collector.
func (d *CTR) Wipe() {
	clear(d.key[:])
	clear(d.v[:])
	clear(d.provided[:])
	clear(d.temp[:])
	clear(d.pad[:])
	d.bcc.wipe()
	d.block = nil
	d.bcc.key = nil
	d.reseedCounter = 0
	d.wiped = true
}

// checkEntropy checks an entropy input length against SP 800-90A Rev. 1, Table 3.
func checkEntropy(entropy []byte, df bool) error {
	if df {
		if len(entropy) < MinEntropyLen || len(entropy) > MaxInputLen {
			return fmt.Errorf("mixer: CTR_DRBG entropy input is %d bytes, need %d to %d", len(entropy), MinEntropyLen, MaxInputLen)
		}
	} else if len(entropy) != SeedLen {
		return fmt.Errorf("mixer: CTR_DRBG entropy input is %d bytes, need %d without derivation function", len(entropy), SeedLen)
	}
	return nil
}

// checkInput checks a personalization string or additional input length
// against SP 800-90A Rev. 1, Table 3.
func checkInput(name string, in []byte, df bool) error {
	limit := SeedLen
	if df {
		limit = MaxInputLen
	}
	if len(in) > limit {
		return fmt.Errorf("mixer: CTR_DRBG %s is %d bytes, at most %d allowed", name, len(in), limit)
	}
	return nil
}
