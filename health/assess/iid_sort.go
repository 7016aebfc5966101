package assess

import (
	"cmp"
	"math/bits"
	"slices"
)

// rotationSorter orders the cyclic rotations of a block (the Burrows–Wheeler
// order that bzip2's block sort produces), reusing its buffers between calls
// so that repeated sorts of blocks of similar size do not allocate.
//
// The method is prefix doubling in the manner of Larsson and Sadakane: the
// positions are first radix-sorted on a 64-bit key that packs as many leading
// symbols as fit, then every group of positions that still compare equal is
// refined by the rank of the position h symbols later, doubling h each round.
type rotationSorter struct {
	key, key2 []uint64
	pos, pos2 []int32
	// rank holds, for every position, the index in sorted order of the last
	// member of its group; once sorting ends it is the inverse permutation.
	rank []int32
	grp  []rankedPos
	cnt  [1 << radixBits]int32
	code [256]uint64
}

type rankedPos struct {
	k, p int32
}

// sort writes into out (len(out) == len(text)) the start positions of the
// rotations of text in increasing order.
// For rotations that are equal as whole strings (a periodic block) the
// order among them is unspecified; their last symbols are equal, so the
// Burrows–Wheeler output does not depend on it.
func (r *rotationSorter) sort(text []byte, out []int32) {
	n := len(text)
	if n == 0 {
		return
	}
	r.grow(n)
	key, pos := r.key[:n], r.pos[:n]

	// Dense codes for the symbols present, so that more fit in a key.
	var used [256]bool
	for _, c := range text {
		used[c] = true
	}
	next := uint64(0)
	for c := range used {
		if used[c] {
			r.code[c] = next
			next++
		}
	}
	width := max(bits.Len64(next-1), 1)
	per := 64 / width

	// Step 1: pack the first per symbols of each position into a key.
	symbolAt := func(i int) uint64 { return r.code[text[i%n]] }
	var k uint64
	for j := range per {
		k = k<<width | symbolAt(j)
	}
	shift := uint(64 - per*width)
	i := 0
	for ; i+per < n; i++ { // no wrap: no division
		key[i] = k << shift
		pos[i] = int32(i)
		k = k<<width | r.code[text[i+per]]
	}
	for ; i < n; i++ {
		key[i] = k << shift
		pos[i] = int32(i)
		k = k<<width | symbolAt(i+per)
	}

	// Step 2: least-significant-digit radix sort of (key, position).
	r.radix(n)
	key, pos = r.key[:n], r.pos[:n]

	// Step 3: group ranks after the first per symbols.
	rank := r.rank[:n]
	unsorted := false
	for s := 0; s < n; {
		e := s
		for e+1 < n && key[e+1] == key[s] {
			e++
		}
		for i := s; i <= e; i++ {
			rank[pos[i]] = int32(e)
		}
		unsorted = unsorted || e > s
		s = e + 1
	}

	// Step 4: refine the groups by doubling.
	// Rotations still equal after n symbols are equal whole strings.
	for h := per; unsorted && h < n; h *= 2 {
		unsorted = false
		for s := 0; s < n; {
			e := int(rank[pos[s]])
			if e == s {
				s++
				continue
			}
			g := r.grp[:0]
			for i := s; i <= e; i++ {
				p := int(pos[i]) + h // < 2n: h < n
				if p >= n {
					p -= n
				}
				g = append(g, rankedPos{k: rank[p], p: pos[i]})
			}
			slices.SortFunc(g, func(a, b rankedPos) int { return cmp.Compare(a.k, b.k) })
			for i, x := range g {
				pos[s+i] = x.p
			}
			for a := 0; a < len(g); {
				b := a
				for b+1 < len(g) && g[b+1].k == g[a].k {
					b++
				}
				for i := a; i <= b; i++ {
					rank[g[i].p] = int32(s + b)
				}
				unsorted = unsorted || b > a
				a = b + 1
			}
			r.grp = g
			s = e + 1
		}
	}
	copy(out, pos)
}

// radixBits is the digit width of the radix sort: 2048 counters fit in the
// first-level cache, and scattering into 2048 runs keeps the writes in
// cache, which 16-bit digits (65,536 runs) do not.
const radixBits = 11

// radix sorts r.key[:n] with r.pos[:n] alongside, radixBits bits per pass,
// skipping the passes whose digit is the same for every key.
func (r *rotationSorter) radix(n int) {
	const mask = 1<<radixBits - 1
	for d := uint(0); d < 64; d += radixBits {
		src, srcPos := r.key[:n], r.pos[:n]
		clear(r.cnt[:])
		for _, k := range src {
			r.cnt[k>>d&mask]++
		}
		if r.cnt[src[0]>>d&mask] == int32(n) {
			continue
		}
		var sum int32
		for i, c := range r.cnt {
			r.cnt[i] = sum
			sum += c
		}
		dst, dstPos := r.key2[:n], r.pos2[:n]
		for i, k := range src {
			b := k >> d & mask
			j := r.cnt[b]
			r.cnt[b]++
			dst[j] = k
			dstPos[j] = srcPos[i]
		}
		r.key, r.key2 = r.key2, r.key
		r.pos, r.pos2 = r.pos2, r.pos
	}
}

func (r *rotationSorter) grow(n int) {
	if cap(r.key) >= n {
		return
	}
	r.key = make([]uint64, n)
	r.key2 = make([]uint64, n)
	r.pos = make([]int32, n)
	r.pos2 = make([]int32, n)
	r.rank = make([]int32, n)
}
