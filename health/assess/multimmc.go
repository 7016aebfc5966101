package assess

import (
	"fmt"
	"math"
)

// MultiMMC names the estimator as the tool's JSON does.
const (
	multiMMCName    = "Multi Markov Model with Counting Test (MultiMMC)"
	multiMMCSection = "6.3.9"
)

// The parameters of SP 800-90B Section 6.3.9.
const (
	// mmcDepth is D, the number of predictors: predictor d (1 ≤ d ≤ D)
	// looks at the d symbols before the one it predicts.
	mmcDepth = 16
	// mmcMaxEntries caps the (x, y) pairs each predictor's dictionary M_d
	// holds (the tool's MAX_ENTRIES).
	mmcMaxEntries = 100_000
)

// MultiMMC computes the Multi Markov Model with Counting prediction
// estimate, per SP 800-90B Section 6.3.9, of s, whose symbols are in
// 0..k-1 (for k == 2 only their low bit is read).
//
// It counts exactly as SP800-90B_EntropyAssessment 1.1.7 does, which is the
// standard's algorithm with the tool's choices where the text leaves room:
// D = 16 predictors; at most 100,000 (x, y) pairs in each predictor's
// dictionary M_d; a predictor predicts the most frequent follower of its
// context, the larger symbol on a tie; predictor d is consulted only when
// the contexts of all shorter predictors were found; the winner moves to
// any right predictor whose score reaches the winner's, the longer one
// within a step. The estimate follows from C, N = L - 2 and r as in
// Section 6.3.7.
//
// For k == 2 (a bitstring, or 1-bit samples) the dictionaries are arrays
// indexed by the context bits; otherwise a trie of contexts. Neither
// allocates per symbol. An input of fewer than 4 symbols (N < 2), with
// k < 2, or of 2^32 symbols or more gives a skipped estimate.
func MultiMMC(s []byte, k int) PredictionResult {
	// Step 1. N = L - 2.
	if why := predictorSkip(len(s), 4, k); why != "" {
		return PredictionResult{Estimate: Estimate{
			Name: multiMMCName, Section: multiMMCSection, MinEntropy: -1, Skipped: why,
		}}
	}
	var c, run int
	if k == 2 {
		c, run = multiMMCBinary(s)
	} else {
		c, run = multiMMCSymbols(s, k)
	}
	// The tool's r is one more than the longest run.
	return newPredictionResult(multiMMCName, multiMMCSection, c, len(s)-2, run+1, k)
}

// predictorSkip says why a predictor of Section 6.3.9 or 6.3.10 cannot run
// on n symbols of an alphabet of k, needing at least least symbols, or
// returns "". Counts are 32-bit, so n must be below 2^32.
func predictorSkip(n, least, k int) string {
	switch {
	case n < least:
		return fmt.Sprintf("fewer than %d samples", least)
	case k < 2:
		return "a single symbol"
	case uint64(n) > math.MaxUint32:
		return "2^32 samples or more"
	}
	return ""
}

// mmcScore is the state shared by the predictors of Section 6.3.9: the
// scoreboard and the winner (Step 3), and C and the runs of the winner's
// correct predictions (Steps 4.c and 4.d).
type mmcScore struct {
	scoreboard [mmcDepth]int
	winner     int
	correct    int
	run        int
	maxRun     int
}

// predicted records whether predictor d (from 0) predicted the current
// symbol right. cur is the winner as the step began: its prediction is the
// one that counts (Steps 4.c and 4.d); a right predictor scores, and
// becomes the winner when its score reaches the winner's (Step 4.e).
func (m *mmcScore) predicted(d, cur int, right bool) {
	if right {
		m.scoreboard[d]++
		if m.scoreboard[d] >= m.scoreboard[m.winner] {
			m.winner = d
		}
		if d == cur {
			m.correct++
			m.run++
			m.maxRun = max(m.maxRun, m.run)
		}
	} else if d == cur {
		m.run = 0
	}
}

// multiMMCBinary runs Section 6.3.9 on a sequence of 0s and 1s and returns
// C, the number of correct predictions of the winning predictor, and r,
// the longest run of them.
//
// Predictor d's dictionary M_d is a table of 2^d pairs of counters (how
// often a 0 and a 1 followed each d-bit context), the two packed in one
// uint64, the count of 0s in the low half; a context is in M_d when either
// counter is non-zero. All D tables share one array, see bitWindow.
//
// M_d holds at most 2^(d+1) pairs, so only the dictionaries of d ≥
// mmcBinaryCapped can reach the limit of 100,000: below, pairs are added
// without counting them. Every context added to some M_d is added to all
// shorter ones too (their room never runs out), so a context missing from
// M_d is missing from the longer dictionaries as well, and the tool's
// overwriting of a counter there always writes a zero counter.
//
// The loop over the predictors has no data-dependent branch but the rare
// one for a context missing from its dictionary: right or wrong, a
// prediction updates the scoreboard and the winner arithmetically.
func multiMMCBinary(s []byte) (c, r int) {
	const (
		half = 32
		low  = 1<<half - 1
	)
	var (
		table   = new([2 << mmcDepth]uint64)
		entries [mmcDepth + 1]int // by d, from 1
		score   [mmcDepth + 1]int
		winner  = 1
		best    = 0 // score[winner]
		run     = 0
		capped  = mmcBinaryCapped()
		w       = newBitWindow()
	)

	// Step 4.a, as the tool orders it: each predictor counts (x, y) right
	// after predicting y from x, and the first pair of every length, (s_1
	// .. s_d, s_{d+1}), is counted ahead.
	for d := 1; d <= mmcDepth && d < len(s); d++ {
		w = w.push(s[d-1])
		table[w.at(d)] = 1 << (half * uint64(s[d]&1))
		entries[d] = 1
	}

	// Step 4, for every symbol s[i] from the third on; w holds the bits
	// before it.
	w = newBitWindow().push(s[0])
	for i := 2; i < len(s); i++ {
		w = w.push(s[i-1])
		y := uint32(s[i] & 1)
		inc := uint64(1) << (half * y)
		cur := winner
		depth := min(mmcDepth, i-1)
		d := 1
		// Steps 4.b to 4.e, and 4.a: predict with each context found in
		// M_d, then count (x, y). The prediction of the winner of the
		// step's start is the one that counts; a right predictor scores,
		// and takes over from a winner it ties.
		for ; d <= depth; d++ {
			at := w.at(d)
			e := table[at]
			if e == 0 {
				break
			}
			right := b2u(uint32(e) > uint32(e>>half)) ^ y
			if d == cur {
				c += int(right)
				run = (run + 1) * int(right)
				r = max(r, run)
			}
			sd := score[d] + int(right)
			score[d] = sd
			if right&b2u(sd >= best) != 0 {
				winner, best = d, sd
			}
			if d >= capped && e&(low*inc) == 0 {
				if entries[d] >= mmcMaxEntries {
					continue
				}
				entries[d]++
			}
			table[at] = e + inc
		}
		// Add (x, y) to the dictionaries where x is missing.
		for ; d <= depth; d++ {
			if d < capped || entries[d] < mmcMaxEntries {
				table[w.at(d)] = inc
				entries[d]++
			}
		}
	}
	return c, r
}

// bitWindow holds the last 16 bits of a bitstring, the latest in bit 15,
// above a marker bit 16: the context of the d latest bits is then the top
// d+1 bits, w >> (16-d), a number in [2^d, 2^(d+1)), which indexes one
// array holding the tables of all context lengths (2^(D+1) entries).
type bitWindow uint32

const bitWindowLen = 16

func newBitWindow() bitWindow { return 1 << bitWindowLen }

// push shifts bit b (the low bit of b) in as the latest.
func (w bitWindow) push(b byte) bitWindow {
	return 1<<bitWindowLen | w>>1&(1<<(bitWindowLen-1)-1) | bitWindow(b&1)<<(bitWindowLen-1)
}

// at returns the index of the context of the d latest bits, 1 ≤ d ≤ 16.
func (w bitWindow) at(d int) uint32 {
	return uint32(w>>(bitWindowLen-d)) & (2<<bitWindowLen - 1)
}

// mmcBinaryCapped returns the shortest context length d whose dictionary
// can reach the 100,000 entries of Section 6.3.9: the first with 2^(d+1)
// possible pairs more than that.
func mmcBinaryCapped() int {
	d := 1
	for 2<<d <= mmcMaxEntries {
		d++
	}
	return d
}

// b2u turns a condition into 1 or 0 without a branch.
func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// multiMMCSymbols runs Section 6.3.9 on symbols in 0..k-1 and returns C and
// the longest run of correct predictions. The dictionaries M_1..M_D are the
// nodes of one context trie (see ctxTrie): a node is in M_d when its
// context of d symbols has been added there.
func multiMMCSymbols(s []byte, k int) (c, r int) {
	var (
		t       = newCtxTrie(k, min(len(s), mmcMaxEntries)*mmcDepth)
		entries [mmcDepth]int
		m       mmcScore
	)

	// Step 4.a, as the tool orders it: each predictor counts (x, y) right
	// after predicting y from x, and the first pair of every length, (s_1
	// .. s_d, s_{d+1}), is counted ahead.
	for d := 1; d <= mmcDepth && d < len(s)-1; d++ {
		x := t.path(s[:d])
		t.add(x)
		t.count(x, s[d], true)
		entries[d-1] = 1
	}

	// Step 4, for every symbol s[i] from the third on.
	for i := 2; i < len(s); i++ {
		y := s[i]
		cur := m.winner
		depth := min(mmcDepth, i-1)
		// x is the deepest trie node on the path s[i-1], s[i-2], …, at
		// depth xd.
		x, xd := uint32(0), 0
		d := 1
		// Steps 4.b to 4.e, and 4.a: predict with each context found in
		// M_d and count (x, y) there, while the contexts are found.
		for ; d <= depth; d++ {
			next := t.child(x, d-1, s[i-d])
			if next == 0 {
				break
			}
			x, xd = next, d
			if !t.in(next) {
				break
			}
			m.predicted(d-1, cur, t.nodes[next].pred == y)
			if t.count(next, y, entries[d-1] < mmcMaxEntries) {
				entries[d-1]++
			}
		}
		// From the first context missing from its M_d on, the tool looks
		// no further and adds (x, y) to every M_d with room, counting it
		// as a new entry even if x was there.
		for ; d <= depth; d++ {
			if entries[d-1] >= mmcMaxEntries {
				continue
			}
			for ; xd < d; xd++ {
				x = t.childOrNew(x, xd, s[i-xd-1])
			}
			t.add(x)
			t.count(x, y, true)
			entries[d-1]++
		}
	}
	return m.correct, m.maxRun
}

// ctxTrie holds the dictionaries of the predictors of Sections 6.3.9 and
// 6.3.10 for symbols in 0..k-1 (k ≤ 256): every context (a string of up to
// 16 symbols) is a node, reached from the root by its symbols from the
// latest back to the earliest, so the contexts of lengths 1..D before a
// symbol lie on one path and each costs one step. A node records whether
// its context is in its dictionary, and the counts of the symbols that
// followed it, with the most frequent one.
//
// The shortest contexts, of lengths 1..direct, are numbered in advance,
// the k^j contexts of length j from base[j] on in the order of their
// symbols, so that their links are arithmetic; direct is as large as keeps
// them below ctxDirectNodes. The counts of the contexts of one symbol are a
// k×k array. A deeper node keeps its first child and its first follower's
// count in itself (most long contexts have one of each); further links and
// counts live in open-addressing tables keyed by node<<8 | symbol.
type ctxTrie struct {
	k      int
	direct int
	base   [maxContext + 2]uint32
	nodes  []ctxNode
	links  symTable // (node, earlier symbol) -> node, beyond the first
	counts symTable // (node, following symbol) -> count, beyond the first
	first  []uint32 // counts of nodes 1..k: [(node-1)*k + symbol]
}

// ctxNode is one context.
type ctxNode struct {
	// best is the count of pred, the most frequent follower of the
	// context (the larger symbol among equally frequent ones).
	best uint32
	// n1 is the count of y1, the first follower seen (0: none yet).
	n1 uint32
	// kid is the first child added (0: none yet), for the earlier symbol
	// kidSym.
	kid    uint32
	pred   byte
	y1     byte
	kidSym byte
	flags  byte
}

// Flags of a ctxNode.
const (
	// nodeIn marks a context that is in its dictionary.
	nodeIn = 1 << iota
	// nodeMoreKids and nodeMoreCounts mark a node with entries in the
	// links and counts tables.
	nodeMoreKids
	nodeMoreCounts
)

// symbolBits is the width of a symbol in the tables' keys.
const symbolBits = 8

// maxContext is the longest context of the predictors, D and B.
const maxContext = max(mmcDepth, lz78yDepth)

// ctxDirectNodes bounds the number of contexts numbered in advance.
const ctxDirectNodes = 1 << 17

// newCtxTrie returns an empty trie for symbols in 0..k-1, with room for
// about nodes more nodes; no more contexts than that are numbered in
// advance beyond those of one symbol.
func newCtxTrie(k, nodes int) *ctxTrie {
	t := &ctxTrie{k: k, first: make([]uint32, k*k), direct: 1}
	t.base[1], t.base[2] = 1, 1+uint32(k)
	budget := min(ctxDirectNodes, nodes)
	for level := k; t.direct < maxContext && int(t.base[t.direct+1])+level*k <= budget; t.direct++ {
		level *= k
		t.base[t.direct+2] = t.base[t.direct+1] + uint32(level)
	}
	n := int(t.base[t.direct+1])
	t.nodes = make([]ctxNode, n, n+nodes)
	t.links.init()
	t.counts.init()
	return t
}

func (t *ctxTrie) in(x uint32) bool { return t.nodes[x].flags&nodeIn != 0 }

func (t *ctxTrie) add(x uint32) { t.nodes[x].flags |= nodeIn }

// child returns the node of context x, of length d, extended by the
// earlier symbol v, or 0 if the trie has none.
func (t *ctxTrie) child(x uint32, d int, v byte) uint32 {
	if d < t.direct {
		return t.base[d+1] + (x-t.base[d])*uint32(t.k) + uint32(v)
	}
	n := &t.nodes[x]
	if n.kidSym == v && n.kid != 0 {
		return n.kid
	}
	if n.flags&nodeMoreKids != 0 {
		if i, ok := t.links.lookup(key(x, v)); ok {
			return t.links.slots[i].val
		}
	}
	return 0
}

// childOrNew returns the node of context x, of length d, extended by v,
// adding it (not in its dictionary) if needed.
func (t *ctxTrie) childOrNew(x uint32, d int, v byte) uint32 {
	if kid := t.child(x, d, v); kid != 0 {
		return kid
	}
	kid := uint32(len(t.nodes))
	if int(kid) != len(t.nodes) {
		panic("assess: internal error: context trie too large")
	}
	t.nodes = append(t.nodes, ctxNode{})
	if n := &t.nodes[x]; n.kid == 0 {
		n.kid, n.kidSym = kid, v
	} else {
		n.flags |= nodeMoreKids
		i, _ := t.links.lookup(key(x, v))
		t.links.insert(i, key(x, v), kid)
	}
	return kid
}

// path returns the node of the context ctx (earliest symbol first), adding
// the nodes it needs.
func (t *ctxTrie) path(ctx []byte) uint32 {
	x := uint32(0)
	for d := range len(ctx) {
		x = t.childOrNew(x, d, ctx[len(ctx)-1-d])
	}
	return x
}

// count counts symbol y after context x: it increments an existing (x, y)
// pair, or adds one with count 1 when makeNew is set, and reports whether it
// added one. The most frequent follower of x is kept up to date as the
// tool's PostfixDictionary keeps it: a count that reaches the best count
// takes over when its symbol is larger.
func (t *ctxTrie) count(x uint32, y byte, makeNew bool) (added bool) {
	var c uint32
	n := &t.nodes[x]
	switch {
	case int(x) <= t.k:
		p := &t.first[(int(x)-1)*t.k+int(y)]
		if *p == 0 && !makeNew {
			return false
		}
		added = *p == 0
		*p++
		c = *p
	case n.y1 == y && n.n1 != 0:
		n.n1++
		c = n.n1
	case n.n1 == 0:
		if !makeNew {
			return false
		}
		n.y1, n.n1 = y, 1
		c, added = 1, true
	default:
		kx := key(x, y)
		i, ok := 0, false
		if n.flags&nodeMoreCounts != 0 {
			i, ok = t.counts.lookup(kx)
		}
		switch {
		case ok:
			t.counts.slots[i].val++
			c = t.counts.slots[i].val
		case !makeNew:
			return false
		default:
			if n.flags&nodeMoreCounts == 0 {
				n.flags |= nodeMoreCounts
				i, _ = t.counts.lookup(kx)
			}
			t.counts.insert(i, kx, 1)
			c, added = 1, true
		}
	}
	if c > n.best || (c == n.best && y > n.pred) {
		n.best, n.pred = c, y
	}
	return added
}

func key(x uint32, v byte) uint64 { return uint64(x)<<symbolBits | uint64(v) }

// symTable is an open-addressing hash table with linear probing from
// non-zero uint64 keys to uint32 values. It doubles when half full.
type symTable struct {
	slots []symSlot
	shift uint
	used  int
}

type symSlot struct {
	key uint64
	val uint32
}

// symTableLog is the log2 of a new table's size.
const symTableLog = 10

// fibonacci is 2^64 divided by the golden ratio, the multiplier of
// Fibonacci hashing: the top bits of key·fibonacci index the table.
const fibonacci = 0x9E3779B97F4A7C15

func (t *symTable) init() {
	t.slots = make([]symSlot, 1<<symTableLog)
	t.shift = 64 - symTableLog
}

// lookup returns the slot holding key, or the empty slot where it belongs.
func (t *symTable) lookup(k uint64) (int, bool) {
	mask := len(t.slots) - 1
	i := int((k * fibonacci) >> t.shift)
	for {
		switch t.slots[i].key {
		case k:
			return i, true
		case 0:
			return i, false
		}
		i = (i + 1) & mask
	}
}

// insert stores key and val in the empty slot i that lookup returned.
func (t *symTable) insert(i int, k uint64, val uint32) {
	t.slots[i] = symSlot{key: k, val: val}
	t.used++
	if 2*t.used > len(t.slots) {
		t.grow()
	}
}

func (t *symTable) grow() {
	old := t.slots
	t.slots = make([]symSlot, 2*len(old))
	t.shift--
	for _, sl := range old {
		if sl.key != 0 {
			i, _ := t.lookup(sl.key)
			t.slots[i] = sl
		}
	}
}
