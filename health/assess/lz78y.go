package assess

// LZ78Y names the estimator as the tool's JSON does.
const (
	lz78yName    = "LZ78Y Test"
	lz78ySection = "6.3.10"
)

// The parameters of SP 800-90B Section 6.3.10.
const (
	// lz78yDepth is B, the length of the longest context.
	lz78yDepth = 16
	// lz78yMaxDict caps the number of contexts in the dictionary, all
	// lengths together (maxDictionarySize).
	lz78yMaxDict = 65_536
)

// LZ78Y computes the LZ78Y prediction estimate, per SP 800-90B Section
// 6.3.10, of s, whose symbols are in 0..k-1 (for k == 2 only their low bit
// is read).
//
// It counts exactly as SP800-90B_EntropyAssessment 1.1.7 does: the
// contexts of the B = 16 lengths share one dictionary of at most 65,536
// contexts, added longest first; a context's prediction is its most
// frequent follower, the larger symbol on a tie; the prediction is that of
// the context with the largest count, the longest one on a tie. The
// estimate follows from C, N = L - B - 1 and r as in Section 6.3.7.
//
// For k == 2 (a bitstring, or 1-bit samples) the dictionary is an array
// indexed by the context bits; otherwise a trie of contexts. Neither
// allocates per symbol. An input of fewer than B + 3 symbols (N < 2), with
// k < 2, or of 2^32 symbols or more gives a skipped estimate.
func LZ78Y(s []byte, k int) PredictionResult {
	// Step 2. N = L - B - 1.
	if why := predictorSkip(len(s), lz78yDepth+3, k); why != "" {
		return PredictionResult{Estimate: Estimate{
			Name: lz78yName, Section: lz78ySection, MinEntropy: -1, Skipped: why,
		}}
	}
	var c, run int
	if k == 2 {
		c, run = lz78yBinary(s)
	} else {
		c, run = lz78ySymbols(s, k)
	}
	// The tool's r is one more than the longest run.
	return newPredictionResult(lz78yName, lz78ySection, c, len(s)-lz78yDepth-1, run+1, k)
}

// lz78yRun counts the correct predictions of Section 6.3.10: C and the
// longest run of them.
type lz78yRun struct {
	correct, run, maxRun int
}

func (l *lz78yRun) predicted(right bool) {
	if right {
		l.correct++
		l.run++
		l.maxRun = max(l.maxRun, l.run)
	} else {
		l.run = 0
	}
}

// lz78yBinary runs Section 6.3.10 on a sequence of 0s and 1s and returns C
// and the longest run of correct predictions. The dictionary is laid out as
// multiMMCBinary's: the two counters of a context of j bits packed in one
// uint64 (0s low) at index 2^j | context (see bitWindow); a context is in
// the dictionary when either counter is non-zero.
func lz78yBinary(s []byte) (c, r int) {
	const half = 32
	var (
		table = new([2 << lz78yDepth]uint64)
		size  = 0
		l     lz78yRun
		w     = newBitWindow()
	)

	// As the tool does, the dictionary starts with the contexts s[B-j..B-1]
	// of every length j, followed by s[B].
	for _, b := range s[:lz78yDepth] {
		w = w.push(b)
	}
	for j := 1; j <= lz78yDepth; j++ {
		table[w.at(j)] = 1 << (half * uint64(s[lz78yDepth]&1))
		size++
	}

	// Every following symbol, while the dictionary has room: for j = B
	// down to 1, predict with the context of j bits if present and
	// count s[i] after it, or add it. The prediction is 0 when more 0s
	// than 1s followed the context; the largest count wins, the longest
	// context on a tie.
	i := lz78yDepth + 1
	for ; i < len(s) && size < lz78yMaxDict; i++ {
		w = w.push(s[i-1])
		y := s[i] & 1
		inc := uint64(1) << (half * uint64(y))
		var best uint32
		var pred byte
		for j := lz78yDepth; j > 0; j-- {
			at := w.at(j)
			e := table[at]
			if e != 0 {
				n0, n1 := uint32(e), uint32(e>>half)
				if n := max(n0, n1); n > best {
					best, pred = n, byte(b2u(n1 >= n0))
				}
				table[at] = e + inc
			} else if size < lz78yMaxDict {
				table[at] = inc
				size++
			}
		}
		l.predicted(best != 0 && pred == y)
	}
	// The dictionary is full: only the contexts in it predict and count,
	// without a data-dependent branch. Each context's bid packs its count,
	// its length and its prediction so that the largest bid is the
	// prediction's: largest count, then longest context.
	for ; i < len(s); i++ {
		w = w.push(s[i-1])
		y := s[i] & 1
		inc := uint64(1) << (half * uint64(y))
		var best uint64
		for j := lz78yDepth; j > 0; j-- {
			at := w.at(j)
			e := table[at]
			n0, n1 := uint32(e), uint32(e>>half)
			best = max(best, uint64(max(n0, n1))<<6|uint64(j)<<1|uint64(b2u(n1 >= n0)))
			table[at] = e + inc&-uint64(b2u(e != 0))
		}
		l.predicted(best>>6 != 0 && byte(best&1) == y)
	}
	return l.correct, l.maxRun
}

// lz78ySymbols runs Section 6.3.10 on symbols in 0..k-1 and returns C and
// the longest run of correct predictions. The dictionary is a context trie
// (see ctxTrie). Contexts are added longest first, so when the dictionary
// fills in the middle of a step a longer context may be in it while its
// suffixes are not: their nodes then stay in the trie, outside the
// dictionary.
func lz78ySymbols(s []byte, k int) (c, r int) {
	var (
		t    = newCtxTrie(k, lz78yMaxDict+lz78yDepth)
		size = 0
		l    lz78yRun
		path [lz78yDepth + 1]uint32
	)

	// As the tool does, the dictionary starts with the contexts s[B-j..B-1]
	// of every length j, followed by s[B].
	for j := 1; j <= lz78yDepth; j++ {
		x := t.path(s[lz78yDepth-j : lz78yDepth])
		t.add(x)
		t.count(x, s[lz78yDepth], true)
		size++
	}

	for i := lz78yDepth + 1; i < len(s); i++ {
		y := s[i]
		// Walk the contexts s[i-1], s[i-2..i-1], … in the trie; predict
		// with those in the dictionary, the largest count winning and, on
		// a tie, the longest context; count y after them.
		var (
			x    uint32
			best uint32
			pred byte
			have bool
		)
		j := 1
		for ; j <= lz78yDepth; j++ {
			next := t.child(x, j-1, s[i-j])
			if next == 0 {
				break
			}
			x, path[j] = next, next
			if n := &t.nodes[next]; n.flags&nodeIn != 0 {
				if n.best >= best {
					best, pred, have = n.best, n.pred, true
				}
				t.count(next, y, true)
			}
		}
		// Add the missing contexts, longest first, while the dictionary
		// has room.
		if size < lz78yMaxDict {
			for ; j <= lz78yDepth; j++ {
				x = t.childOrNew(x, j-1, s[i-j])
				path[j] = x
			}
			for j = lz78yDepth; j > 0 && size < lz78yMaxDict; j-- {
				if !t.in(path[j]) {
					t.add(path[j])
					t.count(path[j], y, true)
					size++
				}
			}
		}
		l.predicted(have && pred == y)
	}
	return l.correct, l.maxRun
}
