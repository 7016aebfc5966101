package mixer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"math/bits"
)

// update is CTR_DRBG_Update, per SP 800-90A Rev. 1, Section 10.2.1.2.
func (d *CTR) update(provided *[SeedLen]byte) {
	b := d.cipher()

	// Steps 1-3. temp = E(K, V+1) || E(K, V+2) || E(K, V+3); ctr_len =
	// blocklen, so V is incremented modulo 2^blocklen.
	for i := 0; i < SeedLen; i += BlockLen {
		incrementV(&d.v)
		b.Encrypt(d.temp[i:i+BlockLen], d.v[:])
	}

	// Step 4.
	subtle.XORBytes(d.temp[:], d.temp[:], provided[:])

	// Steps 5-6.
	d.setKV()
}

// setKV sets Key = leftmost(temp, keylen) and V = rightmost(temp, blocklen),
// per Section 10.2.1.2 Steps 5-6, and wipes temp.
func (d *CTR) setKV() {
	copy(d.key[:], d.temp[:KeyLen])
	copy(d.v[:], d.temp[KeyLen:])
	clear(d.temp[:])
	d.block = nil
}

// cipher returns AES-256 keyed with K, building the key schedule if needed.
func (d *CTR) cipher() cipher.Block {
	if d.block == nil {
		d.block = newAES(d.key[:])
	}
	return d.block
}

// newAES returns AES-256 keyed with key, which must be KeyLen bytes.
func newAES(key []byte) cipher.Block {
	b, err := aes.NewCipher(key)
	if err != nil || len(key) != KeyLen {
		panic("mixer: internal error: AES-256 key setup failed")
	}
	return b
}

// incrementV sets V = (V + 1) mod 2^blocklen, a 128-bit big-endian counter.
// It runs in constant time.
func incrementV(v *[BlockLen]byte) {
	hi := binary.BigEndian.Uint64(v[:8])
	lo, carry := bits.Add64(binary.BigEndian.Uint64(v[8:]), 1, 0)
	binary.BigEndian.PutUint64(v[:8], hi+carry)
	binary.BigEndian.PutUint64(v[8:], lo)
}
