package assess

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// A shuffle of binary data needs no samples moved: a uniformly random
// permutation of n samples, c of them 1, is a uniformly random choice of
// the c positions that hold a 1. bitShuffle makes that choice directly, on
// the samples packed eight to a byte, most significant bit first (sample i
// is bit 7 - i%8 of byte i/8, the layout of Conversion II):
//
//  1. Draw the n bits independently, each equal to the less common symbol
//     with probability q = m/2^k, 64 at a time (bernoulli).
//  2. While the count of ones differs from c, draw a position uniformly in
//     [0, n); if its bit is one of those in excess, flip it.
//
// The result is uniform over the sequences with c ones. Let π be any
// permutation of the positions. Step 1's sequence X has the distribution of
// π(X), the bits being independent and identically distributed. Step 2 is
// a Markov kernel K with K(π(x), π(y)) = K(x, y), since its choice depends
// only on the values of the bits, not on where they are. So the result Y
// has the distribution of π(Y) for every π; the permutations reach every
// sequence with c ones from any other, so all have the same probability.
// q (m and k) changes only the cost, and is chosen in newBitShuffle to make
// it small: for 1,000,000 samples it is about 80,000 random words and
// 20,000 draws of a position, where Fisher–Yates takes 1,000,000 draws and
// as many swaps at random places in memory.
//
// The random numbers come from the run's ChaCha8 generator (math/rand/v2),
// as for Fisher–Yates: the tests need a uniformly random permutation, not
// an unpredictable one, and it is seeded from crypto/rand unless the caller
// gives a seed.
type bitShuffle struct {
	n, ones int    // samples, and how many are 1
	m, k    uint   // step 1's q = m/2^k, m odd or 0
	flip    uint64 // all ones when the less common symbol is 0
	// spread[v] holds the bits of v, most significant first, one per
	// byte, as a little-endian word: the unpacking of one byte.
	spread [256]uint64
}

// bitShuffleMaxK bounds the precision of q: at most 8 random words per 64
// samples.
const bitShuffleMaxK = 8

// newBitShuffle prepares the shuffles of the binary symbols s (0 and 1).
//
// It picks q among the multiples of 2^-k, k ≤ 8, by an estimate of the
// cost: (k minus the trailing zeros of m) random words per 64 samples in
// step 1, and in step 2 the expected excess, |n·q - c| plus one standard
// deviation, times the expected draws per flip (n over the number of bits
// that may flip), a draw weighing two words. q = 0 (step 2 alone) wins for
// rare ones, q = 1/2 near balance.
func newBitShuffle(s []byte) *bitShuffle {
	b := &bitShuffle{n: len(s)}
	for v := range b.spread {
		for i := range 8 {
			b.spread[v] |= uint64(v>>(7-i)&1) << (8 * i)
		}
	}
	for _, x := range s {
		b.ones += int(x)
	}
	c := b.ones
	if 2*c > b.n {
		c = b.n - c
		b.flip = math.MaxUint64
	}
	n := float64(b.n)
	words := float64((b.n + 63) / 64)
	best := 2 * float64(c) * n / max(n-float64(c), 1) // q = 0
	for k := uint(1); k <= bitShuffleMaxK; k++ {
		m := uint(math.Round(float64(c) * float64(uint(1)<<k) / n))
		if m == 0 {
			continue
		}
		tz := uint(bits.TrailingZeros(m))
		q := float64(m) / float64(uint(1)<<k)
		nq := n * q
		excess := math.Abs(nq-float64(c)) + math.Sqrt(nq*(1-q))
		flippable := nq // ones in excess
		if nq < float64(c) {
			flippable = n - nq
		}
		cost := float64(k-tz)*words + 2*excess*n/max(flippable, 1)
		if cost < best {
			best, b.m, b.k = cost, m>>tz, k-tz
		}
	}
	return b
}

// shuffle puts a uniformly random permutation of the samples, packed, into
// w.packed, whose first (n+7)/8 bytes it returns; the bits past the n-th
// are 0. The generator must be seeded.
func (b *bitShuffle) shuffle(w *permWorker) []byte {
	nb := (b.n + 7) / 8
	if len(w.packed) < nb+8 {
		w.packed = make([]byte, nb+8)
	}
	buf := w.packed

	// Step 1.
	ones := 0
	for i := 0; i < nb; i += 8 {
		v := b.flip
		if b.m != 0 {
			v ^= w.bernoulli(b.m, b.k)
		}
		binary.LittleEndian.PutUint64(buf[i:], v)
	}
	clear(buf[nb:])
	if r := b.n % 8; r != 0 {
		buf[nb-1] &= 0xff << (8 - r)
	}
	for i := 0; i < nb; i += 8 {
		ones += bits.OnesCount64(binary.LittleEndian.Uint64(buf[i:]))
	}

	// Step 2.
	excess := ones - b.ones
	flipOnes := excess > 0 // else flip zeros
	if excess < 0 {
		excess = -excess
	}
	for excess > 0 {
		i := w.uint64n(uint64(b.n))
		bit := byte(0x80) >> (i % 8)
		if (buf[i/8]&bit != 0) == flipOnes {
			buf[i/8] ^= bit
			excess--
		}
	}
	return buf[:nb]
}

// bernoulli returns 64 independent bits, each 1 with probability m/2^k,
// m < 2^k, k ≤ bitShuffleMaxK, from k random words.
func (w *permWorker) bernoulli(m, k uint) uint64 {
	var r [bitShuffleMaxK]uint64
	for i := range r[:k] {
		r[i] = w.rng.Uint64()
	}
	return bernoulliOf(m, r[:k])
}

// bernoulliOf returns the 64 comparisons V_j < m, m < 2^len(r), where
// bit i of V_j is the complement of bit j of r[i]. It compares from the
// least significant bit up: V_j < m when the highest bit where they differ
// is set in m, so at a bit set in m the running result becomes (V's bit is
// 0) or the result so far, at a clear bit (V's bit is 0) and the result so
// far. Uniform random words make each V_j uniform in [0, 2^len(r)), and
// the 64 independent.
func bernoulliOf(m uint, r []uint64) uint64 {
	var lt uint64
	for i, ri := range r {
		if m>>i&1 != 0 {
			lt |= ri
		} else {
			lt &= ri
		}
	}
	return lt
}

// uint64n returns a uniform random integer in [0, n), n > 0, by Lemire's
// multiply-and-reject method on 64-bit draws.
func (w *permWorker) uint64n(n uint64) uint64 {
	hi, lo := bits.Mul64(w.rng.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(w.rng.Uint64(), n)
		}
	}
	return hi
}

// packedStatistics is [permSource.statistics] on a permutation of the binary
// symbols packed as bitShuffle packs them: the packed bytes are Conversion
// II, their bit counts Conversion I, and the symbols are unpacked into w.buf
// only when a statistic selected needs them.
func (src *permSource) packedStatistics(b *bitShuffle, packed []byte, want *[permStats]bool, w *permWorker) {
	sc := &w.scratch
	if cap(sc.cs1) < len(packed) {
		sc.cs1 = make([]byte, len(packed))
	}
	sc.cs1 = sc.cs1[:len(packed)]
	for i, v := range packed {
		sc.cs1[i] = byte(bits.OnesCount8(v))
	}
	q := permSeqs{dir: sc.cs1, col: packed, colK: collisionSymbols}
	if want[statExcursion] || want[statNumRunsMedian] || want[statLenRunsMedian] || want[statCompression] {
		q.sym = b.unpack(w.buf, packed)
	}
	src.compute(&q, want, &w.t, sc)
}

// unpack writes the b.n symbols packed into s and returns s[:b.n].
func (b *bitShuffle) unpack(s, packed []byte) []byte {
	s = s[:b.n]
	full := b.n / 8
	for j, v := range packed[:full] {
		binary.LittleEndian.PutUint64(s[8*j:], b.spread[v])
	}
	for i := 8 * full; i < b.n; i++ {
		s[i] = packed[i/8] >> (7 - i%8) & 1
	}
	return s
}
