package mixer

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
)

// dfChains is the number of BCC chains Block_Cipher_df needs for keylen +
// outlen bits: Section 10.3.2 Step 9 runs until len(temp) ≥ keylen + outlen.
const dfChains = (KeyLen + BlockLen + BlockLen - 1) / BlockLen

// dfKey returns the fixed key of Block_Cipher_df, per SP 800-90A Rev. 1,
// Section 10.3.2 Step 8: K = leftmost(0x00010203...1D1E1F, keylen).
func dfKey() []byte {
	var k [KeyLen]byte
	for i := range k {
		k[i] = byte(i)
	}
	return k[:]
}

// blockCipherDF is Block_Cipher_df, per SP 800-90A Rev. 1, Section 10.3.2,
// with no_of_bits_to_return = seedlen. input_string is the concatenation of
// in, which is never copied; the result is written to out. bcc is the
// caller's scratch space, with key set to AES-256 keyed with dfKey.
//
// Callers bound each input by MaxInputLen, so L fits its 32-bit field.
func blockCipherDF(out *[SeedLen]byte, bcc *bccChains, in ...[]byte) {
	// Step 1. no_of_bits_to_return = seedlen = 384 is at most
	// max_number_of_bits = 512: nothing to check at run time.

	// Step 2. L = len(input_string)/8, in bytes.
	var l int
	for _, p := range in {
		l += len(p)
	}

	// Step 3. N = number_of_bits_to_return/8.
	var header [8]byte
	binary.BigEndian.PutUint32(header[:4], uint32(l))
	binary.BigEndian.PutUint32(header[4:], SeedLen)

	// Steps 6-9. temp = BCC(K, IV_0 || S) || BCC(K, IV_1 || S) || BCC(K,
	// IV_2 || S), computed side by side in one pass over S.
	bcc.start()

	// Steps 4-5. S = L || N || input_string || 0x80, padded with zeros to a
	// multiple of outlen.
	bcc.write(header[:])
	for _, p := range in {
		bcc.write(p)
	}
	var pad [BlockLen]byte
	pad[0] = 0x80
	bcc.write(pad[:BlockLen-bcc.n])

	// Step 10. K = leftmost(temp, keylen).
	temp := (*[dfChains * BlockLen]byte)(bcc.chain[:])
	k := newAES(temp[:KeyLen])

	// Step 11. X = select(temp, keylen+1, keylen+outlen).
	x := temp[KeyLen : KeyLen+BlockLen]

	// Steps 12-14. temp = E(K, X) || E(K, E(K, X)) || ..., leftmost seedlen bits.
	for i := 0; i < SeedLen; i += BlockLen {
		k.Encrypt(x, x)
		copy(out[i:i+BlockLen], x)
	}

	// Step 15.
	bcc.wipe()
}

// bccChains runs dfChains instances of BCC, per SP 800-90A Rev. 1,
// Section 10.3.3, over IV_i || S for i = 0, 1, 2, where the data S is fed
// by write. It lives in the CTR so that no call allocates it.
type bccChains struct {
	key   cipher.Block              // AES-256 keyed with dfKey
	chain [dfChains * BlockLen]byte // chaining_value of each instance
	block [BlockLen]byte            // the next block of S
	n     int                       // bytes in block
}

// start runs BCC Steps 1-4 on the first block, IV_i = i || 0^(outlen-32),
// per Section 10.3.2 Step 9.1. Since chaining_value = 0^outlen, the first
// chaining_value becomes E(K, IV_i).
func (c *bccChains) start() {
	clear(c.chain[:])
	for i := range dfChains {
		cv := c.chain[i*BlockLen : (i+1)*BlockLen]
		binary.BigEndian.PutUint32(cv, uint32(i))
		c.key.Encrypt(cv, cv)
	}
	c.n = 0
}

// write feeds p into BCC Step 4 of every instance: for each complete block,
// input_block = chaining_value ⊕ block and chaining_value = E(K, input_block).
func (c *bccChains) write(p []byte) {
	for len(p) > 0 {
		m := copy(c.block[c.n:], p)
		c.n += m
		p = p[m:]
		if c.n < BlockLen {
			return
		}
		for i := range dfChains {
			cv := c.chain[i*BlockLen : (i+1)*BlockLen]
			subtle.XORBytes(cv, cv, c.block[:])
			c.key.Encrypt(cv, cv)
		}
		c.n = 0
	}
}

// wipe zeroes the chaining values and the buffered block.
func (c *bccChains) wipe() {
	clear(c.chain[:])
	clear(c.block[:])
	c.n = 0
}
