package mixer

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ctrRef is a literal reading of SP 800-90A Rev. 1, Sections 10.2.1 and
// 10.3.2-10.3.3, written for clarity only: Block_Encrypt one block at a
// time, a byte-wise counter increment, strings built by concatenation.
// It is itself checked against the CAVP vectors (TestCTRReferenceVectors,
// TestCTRCAVPVectors).
type ctrRef struct {
	key, v        []byte
	reseedCounter uint64
	df            bool

	block    cipher.Block // AES keyed with blockKey, a cache for blockEncrypt
	blockKey []byte
}

func ctrRefBlockEncrypt(r *ctrRef, key, in []byte) []byte {
	if r.block == nil || !bytes.Equal(r.blockKey, key) {
		b, err := aes.NewCipher(key)
		if err != nil {
			panic(err)
		}
		r.block, r.blockKey = b, bytes.Clone(key)
	}
	out := make([]byte, 16)
	r.block.Encrypt(out, in)
	return out
}

// ctrRefIncrement is V = (V + 1) mod 2^128, byte by byte with carry.
func ctrRefIncrement(v []byte) {
	for i := len(v) - 1; i >= 0; i-- {
		v[i]++
		if v[i] != 0 {
			break
		}
	}
}

func ctrRefXOR(a, b []byte) []byte {
	out := make([]byte, len(a))
	for i := range a {
		out[i] = a[i] ^ b[i]
	}
	return out
}

func ctrRefPad(in []byte, n int) []byte {
	return append(bytes.Clone(in), make([]byte, n-len(in))...)
}

// update is CTR_DRBG_Update, Section 10.2.1.2.
func (r *ctrRef) update(provided []byte) {
	var temp []byte
	for len(temp) < 48 {
		ctrRefIncrement(r.v)
		temp = append(temp, ctrRefBlockEncrypt(r, r.key, r.v)...)
	}
	temp = ctrRefXOR(temp[:48], provided)
	r.key, r.v = temp[:32], temp[32:48]
}

// bcc is BCC, Section 10.3.3.
func (r *ctrRef) bcc(key, data []byte) []byte {
	chaining := make([]byte, 16)
	for i := 0; i < len(data); i += 16 {
		chaining = ctrRefBlockEncrypt(r, key, ctrRefXOR(chaining, data[i:i+16]))
	}
	return chaining
}

// blockCipherDF is Block_Cipher_df, Section 10.3.2.
func (r *ctrRef) blockCipherDF(input []byte, bits int) []byte {
	be32 := func(x int) []byte { return []byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)} }
	s := append(append(be32(len(input)), be32(bits/8)...), input...)
	s = append(s, 0x80)
	for len(s)%16 != 0 {
		s = append(s, 0)
	}
	var temp []byte
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(i)
	}
	for i := 0; len(temp) < 48; i++ {
		iv := append(be32(i), make([]byte, 12)...)
		temp = append(temp, r.bcc(k, append(iv, s...))...)
	}
	k, x := temp[:32], temp[32:48]
	temp = nil
	for len(temp) < bits/8 {
		x = ctrRefBlockEncrypt(r, k, x)
		temp = append(temp, x...)
	}
	return temp[:bits/8]
}

func ctrRefConcat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// ctrRefValidInstantiate applies Table 3 and Section 8.6.7 as NewCTR documents them.
func ctrRefValidInstantiate(entropy, nonce, pers []byte, df bool) bool {
	if df {
		return len(entropy) >= 32 && len(entropy) <= 1<<16 && len(nonce) >= 16 && len(nonce) <= 1<<16 && len(pers) <= 1<<16
	}
	return len(entropy) == 48 && len(nonce) == 0 && len(pers) <= 48
}

func ctrRefValidInput(in []byte, df bool) bool {
	if df {
		return len(in) <= 1<<16
	}
	return len(in) <= 48
}

func newCTRRef(entropy, nonce, pers []byte, df bool) *ctrRef {
	r := &ctrRef{key: make([]byte, 32), v: make([]byte, 16), df: df}
	var seed []byte
	if df {
		seed = r.blockCipherDF(ctrRefConcat(entropy, nonce, pers), 384)
	} else {
		seed = ctrRefXOR(entropy, ctrRefPad(pers, 48))
	}
	r.update(seed)
	r.reseedCounter = 1
	return r
}

func (r *ctrRef) reseed(entropy, add []byte) {
	var seed []byte
	if r.df {
		seed = r.blockCipherDF(ctrRefConcat(entropy, add), 384)
	} else {
		seed = ctrRefXOR(entropy, ctrRefPad(add, 48))
	}
	r.update(seed)
	r.reseedCounter = 1
}

func (r *ctrRef) generate(n int, add []byte) ([]byte, error) {
	if r.reseedCounter > 1<<48 {
		return nil, ErrReseedRequired
	}
	if len(add) > 0 {
		if r.df {
			add = r.blockCipherDF(add, 384)
		} else {
			add = ctrRefPad(add, 48)
		}
		r.update(add)
	} else {
		add = make([]byte, 48)
	}
	temp := []byte{} // not nil: assert.Equal tells a nil output from Generate's empty one
	for len(temp) < n {
		ctrRefIncrement(r.v)
		temp = append(temp, ctrRefBlockEncrypt(r, r.key, r.v)...)
	}
	r.update(add)
	r.reseedCounter++
	return temp[:n], nil
}

func TestCTRReferenceVectors(t *testing.T) {
	for _, rec := range inlineCTRRecords(t) {
		assert.Equal(t, rec.returned, ctrRefRun(rec), "%s: reference ReturnedBits", rec.where)
	}
}

func ctrRefRun(rec *ctrRecord) []byte {
	r := newCTRRef(rec.entropy, rec.nonce, rec.pers, rec.df)
	var out []byte
	for j := range 2 {
		add := rec.additional[j]
		if rec.pr {
			r.reseed(rec.entropyPR[j], add)
			add = nil
		} else if rec.hasReseed && j == 0 {
			r.reseed(rec.reseedEntropy, rec.reseedAdd)
		}
		out, _ = r.generate(len(rec.returned), add)
	}
	return out
}

// ctrFuzzLen maps a fuzzed number to a request size: half of the values fall
// below 1 KiB, around the switch to the streaming path, the rest anywhere up
// to MaxRequest+1, one byte too many.
func ctrFuzzLen(n uint32) int {
	if n&1 == 0 {
		return int(n>>1) % 1024
	}
	return int(n>>1) % (MaxRequest + 2)
}

// FuzzCTR checks that NewCTR, Reseed and Generate never panic on any input
// and agree with ctrRef on validity and output, with and without df. The flow
// is Instantiate, [Reseed], Generate, [Reseed], Generate; the corpus starts
// from the CAVP records.
func FuzzCTR(f *testing.F) {
	recs := inlineCTRRecords(f)
	for _, rec := range recs {
		reseedEntropy, reseedAdd, flags := rec.reseedEntropy, rec.reseedAdd, uint8(0)
		if rec.pr {
			reseedEntropy, reseedAdd, flags = rec.entropyPR[0], rec.additional[0], 3
		}
		f.Add(rec.df, rec.entropy, rec.nonce, rec.pers, reseedEntropy, reseedAdd,
			rec.additional[0], rec.additional[1], flags, uint32(64<<1), uint32(641<<1|1))
	}
	for _, v := range ctrSelfTestVectors {
		f.Add(v.df, ctrMustHex(f, v.entropy), ctrMustHex(f, v.nonce), ctrMustHex(f, v.personalization),
			ctrMustHex(f, v.reseedEntropy), ctrMustHex(f, v.reseedAdditional),
			ctrMustHex(f, v.additional1), ctrMustHex(f, v.additional2), uint8(1), uint32(17<<1), uint32(MaxRequest<<1|1))
	}
	f.Add(false, make([]byte, 47), []byte{}, []byte{}, []byte{}, []byte{}, []byte{}, []byte{}, uint8(0), uint32(0), uint32(0))
	f.Add(true, make([]byte, 32), make([]byte, 15), []byte{}, make([]byte, 31), make([]byte, 49), []byte{1}, []byte{}, uint8(3),
		uint32((MaxRequest+1)<<1|1), uint32(639<<1))

	f.Fuzz(func(t *testing.T, df bool, entropy, nonce, pers, reseedEntropy, reseedAdd, add1, add2 []byte,
		flags uint8, n1, n2 uint32) {
		d, err := NewCTR(entropy, nonce, pers, df)
		requireOK(t, ctrRefValidInstantiate(entropy, nonce, pers, df), err, "NewCTR")
		if err != nil {
			return
		}
		r := newCTRRef(entropy, nonce, pers, df)

		for i, step := range [2]struct {
			add []byte
			n   int
		}{{add1, ctrFuzzLen(n1)}, {add2, ctrFuzzLen(n2)}} {
			if flags&(1<<i) != 0 {
				err := d.Reseed(reseedEntropy, reseedAdd)
				valid := ctrRefValidInput(reseedAdd, df) &&
					((df && len(reseedEntropy) >= 32 && len(reseedEntropy) <= 1<<16) || (!df && len(reseedEntropy) == 48))
				requireOK(t, valid, err, "Reseed")
				if valid {
					r.reseed(reseedEntropy, reseedAdd)
				}
			}
			out := make([]byte, step.n)
			err := d.Generate(out, step.add)
			valid := step.n <= MaxRequest && ctrRefValidInput(step.add, df)
			requireOK(t, valid, err, "Generate(%d bytes, %d bytes additional)", step.n, len(step.add))
			if !valid {
				require.NotErrorIs(t, err, ErrReseedRequired, "failed Generate")
				require.Equal(t, make([]byte, step.n), out, "failed Generate wrote output")
				continue
			}
			want, _ := r.generate(step.n, step.add)
			require.Equal(t, want, out, "Generate(%d bytes, %d bytes additional) differs from the reference", step.n, len(step.add))
			require.Equal(t, r.reseedCounter, d.ReseedCounter(), "reseed counter against the reference")
		}
	})
}
