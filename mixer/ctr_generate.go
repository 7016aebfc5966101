package mixer

import (
	"crypto/cipher"
	"fmt"
)

// ctrStreamMin is the request size from which Generate draws its output from
// a cipher.NewCTR keystream rather than encrypting block by block. The
// stream costs one allocation and a copy of the key schedule (about 200 ns)
// but then runs about four times faster than one Encrypt call per block;
// on the build machine the two cross near 640 bytes.
const ctrStreamMin = 40 * BlockLen

// Generate is the Generate function, per SP 800-90A Rev. 1, Section 9.3.1,
// with CTR_DRBG_Generate_algorithm of Section 10.2.1.5. It fills out, at most
// MaxRequest bytes, with pseudorandom bytes. additional is the additional
// input: empty for none, at most SeedLen bytes without the derivation
// function (padded with zeros to SeedLen) and MaxInputLen bytes with it.
//
// An empty out is a valid request for 0 bits: it still runs the final
// CTR_DRBG_Update (backtracking resistance) and counts toward
// ReseedInterval. On error out is not written and the state is unchanged;
// after ReseedInterval requests the error is [ErrReseedRequired].
//
// Per request, the AES key schedules cost one allocation each for the
// current K (and, with additional input, for the K after Step 2), plus one
// for cipher.NewCTR when len(out) ≥ 640: at most 2 allocations without
// additional input and 3 with it (one more with the derivation function).
func (d *CTR) Generate(out, additional []byte) error {
	if d.wiped {
		return errCTRWiped
	}
	// Steps 2 and 4 of Section 9.3.1: check the lengths against Table 3.
	if len(out) > MaxRequest {
		return fmt.Errorf("mixer: CTR_DRBG request of %d bytes exceeds %d", len(out), MaxRequest)
	}
	if err := checkInput("additional input", additional, d.df); err != nil {
		return err
	}

	// CTR_DRBG_Generate_algorithm, per Section 10.2.1.5.1 (no df) and
	// Section 10.2.1.5.2 (df).

	// Step 1.
	if d.reseedCounter > ReseedInterval {
		return ErrReseedRequired
	}

	// Step 2. A zero-length additional input is Null: the first update is
	// skipped and additional_input = 0^seedlen for the one in Step 6.
	clear(d.provided[:])
	if len(additional) > 0 {
		if d.df {
			// Step 2.1 (df): additional_input = Block_Cipher_df(additional_input, seedlen).
			blockCipherDF(&d.provided, &d.bcc, additional)
		} else {
			// Step 2.1 (no df): pad additional_input with zeros to seedlen.
			copy(d.provided[:], additional)
		}
		// Step 2.2.
		d.update(&d.provided)
	}

	// Steps 3-6.
	if len(out) < ctrStreamMin {
		d.generateBlocks(out)
	} else {
		d.generateStream(out)
	}
	clear(d.provided[:])

	// Step 7.
	d.reseedCounter++

	// Step 8.
	return nil
}

// generateBlocks runs Steps 3-6 of Section 10.2.1.5.1 one Block_Encrypt
// call per output block.
func (d *CTR) generateBlocks(out []byte) {
	b := d.cipher()

	// Steps 3-5. The last block is truncated to the requested length.
	for len(out) >= BlockLen {
		// Step 4.1.
		incrementV(&d.v)
		// Steps 4.2-4.3.
		b.Encrypt(out[:BlockLen], d.v[:])
		out = out[BlockLen:]
	}
	if len(out) > 0 {
		incrementV(&d.v)
		b.Encrypt(d.pad[:], d.v[:])
		copy(out, d.pad[:])
		clear(d.pad[:])
	}

	// Step 6.
	d.update(&d.provided)
}

// zeroBlocks is never written: it is the all-zero plaintext whose
// encryption in CTR mode is the keystream.
var zeroBlocks [16 << 10]byte

// generateStream runs Steps 3-6 of Section 10.2.1.5.1 with one AES-256-CTR
// keystream. ctr_len = blocklen, so V is a full 128-bit big-endian counter,
// exactly as in cipher.NewCTR: with IV = V+1 the keystream is E(K, V+1) ||
// E(K, V+2) || ..., the sequence of Step 4, and the keystream that follows
// the last output block is E(K, V+1) || E(K, V+2) || E(K, V+3) of the
// CTR_DRBG_Update in Step 6, which so reuses the same key schedule.
func (d *CTR) generateStream(out []byte) {
	// Step 4.1 for the first block.
	incrementV(&d.v)
	s := cipher.NewCTR(d.cipher(), d.v[:])

	// Steps 3-5. XORing the keystream into zeros read from a constant
	// all-zero block, rather than clearing out first, saves a pass over out.
	for q := out; len(q) > 0; {
		n := min(len(q), len(zeroBlocks))
		s.XORKeyStream(q[:n], zeroBlocks[:n])
		q = q[n:]
	}
	if r := len(out) % BlockLen; r != 0 {
		// Discard the rest of the last, truncated, block.
		s.XORKeyStream(d.pad[:BlockLen-r], d.pad[:BlockLen-r])
		clear(d.pad[:])
	}

	// Step 6: CTR_DRBG_Update Steps 1-4 in one call, temp XOR provided_data,
	// then Steps 5-6.
	s.XORKeyStream(d.temp[:], d.provided[:])
	d.setKV()
}
