package assess

import (
	"cmp"
	"math/bits"
	"slices"
)

// Suffix sorting by packed words: the fast path of suffixArray for inputs
// without long repeats, which is what noise-source samples are.
//
// The symbols are packed 1, 2, 4 or 8 bits each into 64-bit words, so that
// 64 bits of any suffix load with two word reads and compare in one
// instruction: 64 symbols at a time for a bitstring. The suffixes are
// bucketed by their first 8 to 20 bits, each bucket sorted by its next 64
// bits, and only suffixes that agree there are compared further. The LCP
// array then comes from the same word comparisons, without Kasai's
// random-access pass. Deep comparisons are budgeted: an input with long
// repeats (a constant run, a periodic pattern) exhausts the budget, and
// suffixArray falls back to SA-IS.

// packedSeq is a symbol sequence packed width bits per symbol, most
// significant first, followed by zero words so that a 64-bit window at any
// position up to a few words past the end can be read.
type packedSeq struct {
	s     []byte
	words []uint64
	n     int
	width int // bits per symbol: 1, 2, 4 or 8
	spk   int // symbols per 64-bit window
	// work counts the words compared beyond the first window; budget
	// bounds it.
	work, budget int
}

// packedPadWords is the zero padding after the packed symbols: enough for a
// window starting up to 64 symbols past the end.
const packedPadWords = 3

// deepBudgetPerSymbol bounds the words compared in deep comparisons, per
// symbol of input, before the fast path gives up.
const deepBudgetPerSymbol = 4

func newPackedSeq(s []byte, k int) *packedSeq {
	width := 8
	switch {
	case k <= 2:
		width = 1
	case k <= 4:
		width = 2
	case k <= 16:
		width = 4
	}
	p := &packedSeq{
		s:      s,
		n:      len(s),
		width:  width,
		spk:    64 / width,
		words:  make([]uint64, len(s)*width/64+packedPadWords),
		budget: deepBudgetPerSymbol*len(s) + 1024,
	}
	perWord := p.spk
	for w := range len(s) / perWord {
		var x uint64
		for _, c := range s[w*perWord : (w+1)*perWord] {
			x = x<<width | uint64(c)
		}
		p.words[w] = x
	}
	if tail := len(s) % perWord; tail > 0 {
		var x uint64
		for _, c := range s[len(s)-tail:] {
			x = x<<width | uint64(c)
		}
		p.words[len(s)/perWord] = x << (64 - tail*width)
	}
	return p
}

// window returns the 64 bits of symbols starting at symbol i (zeros past
// the end).
func (p *packedSeq) window(i int) uint64 {
	return p.bitWindow(i * p.width)
}

// lcp returns the length of the longest common prefix of the suffixes at a
// and b, which are known to agree on their first d symbols.
func (p *packedSeq) lcp(a, b, d int) int {
	lim := p.n - max(a, b)
	for d < lim {
		x := p.window(a+d) ^ p.window(b+d)
		if x != 0 {
			return min(d+bits.LeadingZeros64(x)/p.width, lim)
		}
		d += p.spk
		p.work++
	}
	return lim
}

// compare orders the suffixes at a and b, known to agree on their first d
// symbols; a suffix sorts before any longer one it prefixes.
func (p *packedSeq) compare(a, b, d int) int {
	if p.work > p.budget {
		// Given up: finish the sort cheaply, the result is discarded.
		return cmp.Compare(a, b)
	}
	l := p.lcp(a, b, d)
	if l == p.n-max(a, b) {
		return cmp.Compare(b, a) // the later suffix is the shorter
	}
	return cmp.Compare(p.s[a+l], p.s[b+l])
}

// keyPos is a suffix with a 64-bit window of it, for sorting a bucket.
type keyPos struct {
	key uint64
	pos int32
}

// insertionMax is the bucket size up to which buckets sort by insertion.
const insertionMax = 24

// Radix digits: the first pass sorts by the first topDigit bits, deeper
// passes by digitBits bits; buckets of at most smallBucket suffixes sort by
// comparison instead.
const (
	topDigit    = 12
	digitBits   = 10
	smallBucket = 64
	// maxRadixDepth is the depth in bits beyond which a large bucket means
	// long repeats: the fast path gives up.
	maxRadixDepth = 4096
)

// bitWindow returns the 64 bits of the packed stream from bit b (zeros past
// the end).
func (p *packedSeq) bitWindow(b int) uint64 {
	w, sh := b>>6, uint(b&63)
	if w+1 >= len(p.words) {
		if w >= len(p.words) {
			return 0
		}
		return p.words[w] << sh
	}
	return p.words[w]<<sh | p.words[w+1]>>(64-sh)
}

// sortSuffixes returns the suffix array of the packed sequence, or false
// when the input has repeats too long for this method.
func (p *packedSeq) sortSuffixes() ([]int32, bool) {
	n := p.n
	sa := make([]int32, n)
	// Step 1. Distribute the suffixes by their first topDigit bits.
	var start [1<<topDigit + 1]int32
	const shift = 64 - topDigit
	for i := range n {
		start[p.window(i)>>shift+1]++
	}
	largest := int32(0)
	for b := 1; b <= 1<<topDigit; b++ {
		largest = max(largest, start[b])
		start[b] += start[b-1]
	}
	next := start
	for i := range n {
		b := p.window(i) >> shift
		sa[next[b]] = int32(i)
		next[b]++
	}
	// Step 2. Sort each bucket, by further digits while it is large.
	st := suffixSorter{p: p, tmp: make([]int32, largest), digit: make([]uint16, largest)}
	for b := range 1 << topDigit {
		st.sort(sa[start[b]:start[b+1]], topDigit)
		if p.work > p.budget {
			return nil, false
		}
	}
	return sa, true
}

// suffixSorter sorts buckets of suffixes known to agree on a number of
// leading bits, with a scratch buffer as long as the largest bucket.
type suffixSorter struct {
	p     *packedSeq
	tmp   []int32
	digit []uint16
	kp    []keyPos
}

// sort sorts the suffixes in sa, which agree on their first depth bits.
func (st *suffixSorter) sort(sa []int32, depth int) {
	p := st.p
	if len(sa) <= 1 || p.work > p.budget {
		return
	}
	if len(sa) <= smallBucket {
		st.sortSmall(sa, depth)
		return
	}
	if depth > maxRadixDepth {
		p.work = p.budget + 1
		return
	}
	// A radix pass on the next digit, counted against the budget once the
	// suffixes agree on more than a window's worth of bits.
	if depth > 64 {
		p.work += len(sa)
	}
	// Suffixes no longer than depth bits are prefixes of the others: they
	// come first, shortest first, and the rest are distributed.
	const shift = 64 - digitBits
	const endedDigit = 1 << digitBits
	var start [1<<digitBits + 1]int32
	tmp, digit := st.tmp[:len(sa)], st.digit[:len(sa)]
	ended := 0
	for i, pos := range sa {
		if (p.n-int(pos))*p.width <= depth {
			digit[i] = endedDigit
			ended++
			continue
		}
		d := uint16(p.bitWindow(int(pos)*p.width+depth) >> shift)
		digit[i] = d
		start[d+1]++
	}
	for b := 1; b <= 1<<digitBits; b++ {
		start[b] += start[b-1]
	}
	next := start
	e := 0
	for i, pos := range sa {
		d := digit[i]
		if d == endedDigit {
			tmp[e] = pos
			e++
			continue
		}
		tmp[ended+int(next[d])] = pos
		next[d]++
	}
	slices.SortFunc(tmp[:ended], func(a, b int32) int { return cmp.Compare(b, a) })
	copy(sa, tmp)
	rest := sa[ended:]
	for b := range 1 << digitBits {
		st.sort(rest[start[b]:start[b+1]], depth+digitBits)
	}
}

// sortSmall sorts a small bucket by the 64 bits after depth, then runs of
// equal windows by comparing further.
func (st *suffixSorter) sortSmall(sa []int32, depth int) {
	p := st.p
	kp := st.kp[:0]
	for _, pos := range sa {
		kp = append(kp, keyPos{p.bitWindow(int(pos)*p.width + depth), pos})
	}
	st.kp = kp
	sortKeyPos(kp)
	// Suffixes with equal windows agree on depth+64 bits, so on at least
	// that many whole symbols.
	d := (depth + 64) / p.width
	for i := 0; i < len(kp); {
		j := i + 1
		for j < len(kp) && kp[j].key == kp[i].key {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(kp[i:j], func(x, y keyPos) int {
				return p.compare(int(x.pos), int(y.pos), d)
			})
		}
		i = j
	}
	for i, x := range kp {
		sa[i] = x.pos
	}
}

// sortKeyPos sorts by key: by insertion when short.
func sortKeyPos(t []keyPos) {
	if len(t) > insertionMax {
		slices.SortFunc(t, func(x, y keyPos) int { return cmp.Compare(x.key, y.key) })
		return
	}
	for i := 1; i < len(t); i++ {
		x := t[i]
		j := i
		for j > 0 && t[j-1].key > x.key {
			t[j] = t[j-1]
			j--
		}
		t[j] = x
	}
}

// lcpInPlace overwrites the suffix array sa with its LCP array, as the
// package-level lcpInPlace does, by word comparisons of neighbours. It
// returns false when that takes too long, leaving sa partly overwritten.
func (p *packedSeq) lcpInPlace(sa []int32) bool {
	if len(sa) == 0 {
		return true
	}
	p.work = 0
	prev := int(sa[0])
	sa[0] = 0
	for i := 1; i < len(sa); i++ {
		cur := int(sa[i])
		sa[i] = int32(p.lcp(prev, cur, 0))
		if p.work > p.budget {
			return false
		}
		prev = cur
	}
	return true
}
