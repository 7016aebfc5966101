package assess

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLZ78YMatchesTool runs the estimator on every reference file as the
// tool does (the samples, and the bitstring of multi-bit samples) and
// compares every value the tool printed.
func TestLZ78YMatchesTool(t *testing.T) {
	for _, c := range loadNoniidCases(t) {
		t.Run(c.name, func(t *testing.T) {
			for _, q := range predictorSeqs(t, c.raw) {
				got := LZ78Y(q.s, q.k)
				assert.Equal(t, lz78ySection, got.Section, "Section")
				checkPredictor(t, c, q, "LZ78Y", got)
			}
		})
	}
}

// naiveLZ78Y is Section 6.3.10 as the tool's LZ78Y_test writes it, with
// maps keyed by the context's symbols, for checking the fast code.
func naiveLZ78Y(s []byte) (c, maxRun int) {
	type postfix struct {
		counts map[byte]int
		best   int
		pred   byte
	}
	increment := func(p *postfix, y byte) {
		p.counts[y]++
		if n := p.counts[y]; n > p.best || (n == p.best && y > p.pred) {
			p.best, p.pred = n, y
		}
	}
	var dicts [lz78yDepth]map[string]*postfix
	for j := range dicts {
		dicts[j] = map[string]*postfix{}
	}
	size, run := 0, 0
	for j := 1; j <= lz78yDepth; j++ {
		p := &postfix{counts: map[byte]int{}}
		dicts[j-1][string(s[lz78yDepth-j:lz78yDepth])] = p
		increment(p, s[lz78yDepth])
		size++
	}
	for i := lz78yDepth + 1; i < len(s); i++ {
		have, best, pred := false, 0, byte(0)
		for j := lz78yDepth; j > 0; j-- {
			x := string(s[i-j : i])
			if p, ok := dicts[j-1][x]; ok {
				if p.best > best {
					have, best, pred = true, p.best, p.pred
				}
				increment(p, s[i])
			} else if size < lz78yMaxDict {
				p := &postfix{counts: map[byte]int{}}
				dicts[j-1][x] = p
				increment(p, s[i])
				size++
			}
		}
		if have && pred == s[i] {
			c++
			run++
			maxRun = max(maxRun, run)
		} else {
			run = 0
		}
	}
	return c, maxRun
}

// TestLZ78YNaive compares the fast code with the tool's algorithm written
// plainly, on sequences of several alphabets and lengths, some long enough
// to fill the dictionary (and so to leave a long context in it whose
// suffixes are not); for k == 2 both the array code and the trie code.
func TestLZ78YNaive(t *testing.T) {
	for _, tc := range []struct{ n, k, stick int }{
		{19, 2, 0}, {19, 3, 0}, {40, 2, 90}, {300, 3, 0}, {3000, 2, 0},
		{3000, 2, 95}, {5000, 4, 30}, {5000, 256, 0}, {20000, 7, 80},
		{60_000, 2, 0}, {60_000, 2, 97}, {60_000, 200, 0}, {60_000, 12, 70},
	} {
		if testing.Short() && tc.n > 20000 {
			continue
		}
		s := randomSymbols(uint64(tc.n), tc.n, tc.k, tc.stick)
		c, r := naiveLZ78Y(s)
		gc, gr := lz78ySymbols(s, tc.k)
		assert.Equal(t, c, gc, "n=%d k=%d stick=%d: trie C, tool's algorithm C", tc.n, tc.k, tc.stick)
		assert.Equal(t, r, gr, "n=%d k=%d stick=%d: trie run, tool's algorithm run", tc.n, tc.k, tc.stick)
		if tc.k == 2 {
			bc, br := lz78yBinary(s)
			assert.Equal(t, c, bc, "n=%d stick=%d: arrays C, tool's algorithm C", tc.n, tc.stick)
			assert.Equal(t, r, br, "n=%d stick=%d: arrays run, tool's algorithm run", tc.n, tc.stick)
		}
	}
}

// TestLZ78YShort checks the smallest inputs: skipped below B + 3 samples
// or with one symbol, computed from B + 3 on.
func TestLZ78YShort(t *testing.T) {
	for n := range lz78yDepth + 3 {
		got := LZ78Y(make([]byte, n), 2)
		assert.False(t, got.Ran(), "LZ78Y of %d samples ran: %+v", n, got)
		assert.NotEmpty(t, got.Skipped, "LZ78Y of %d samples: no reason for the skip", n)
	}
	got := LZ78Y(make([]byte, 100), 1)
	assert.False(t, got.Ran(), "LZ78Y with k = 1 ran: %+v", got)
	got = LZ78Y(randomSymbols(1, lz78yDepth+3, 3, 0), 3)
	assert.True(t, got.Ran(), "LZ78Y of B + 3 samples skipped: %s", got.Skipped)
	assert.Equal(t, 2, got.N, "LZ78Y of B + 3 samples: N")
	assert.Equal(t, lz78yName, got.Name, "LZ78Y of B + 3 samples: Name")
}

// FuzzLZ78Y compares the fast code with the tool's algorithm on any input:
// the first byte picks the alphabet size.
func FuzzLZ78Y(f *testing.F) {
	f.Add([]byte{2, 0, 1, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 0, 1, 1, 1, 0})
	f.Add([]byte{5, 4, 4, 4, 1, 2, 3, 4, 4, 4, 1, 2, 3, 0, 4, 4, 4, 1, 2, 3, 0, 1, 1})
	for _, name := range []string{"rand1_short", "rand4_short", "rand8_short"} {
		if raw := seedSamples(f, name); raw != nil {
			f.Add(append([]byte{byte(len(name))}, raw[:400]...))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < lz78yDepth+3 || len(in) > 4000 {
			t.Skip()
		}
		k := max(2, int(in[0]))
		s := make([]byte, len(in)-1)
		for i, b := range in[1:] {
			s[i] = byte(int(b) % k)
		}
		c, r := naiveLZ78Y(s)
		gc, gr := lz78ySymbols(s, k)
		require.Equal(t, c, gc, "k=%d: trie C, tool's algorithm C", k)
		require.Equal(t, r, gr, "k=%d: trie run, tool's algorithm run", k)
		for i := range s {
			s[i] &= 1
		}
		c, r = naiveLZ78Y(s)
		bc, br := lz78yBinary(s)
		require.Equal(t, c, bc, "bits: arrays C, tool's algorithm C")
		require.Equal(t, r, br, "bits: arrays run, tool's algorithm run")
	})
}

func BenchmarkLZ78Y(b *testing.B) { benchPredictor(b, LZ78Y) }
