package assess

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// predictorSeqs returns the sequences the tool runs a predictor on for one
// reference file, labelled as its verbose output labels them: the samples
// ("Literal") and, when they have more than two values, the bitstring.
func predictorSeqs(t *testing.T, raw []byte) []predictorSeq {
	t.Helper()
	d, err := Prepare(raw, 0)
	require.NoError(t, err)
	seqs := []predictorSeq{{"Literal", "hOriginal", d.Symbols, d.K}}
	if d.K > 2 {
		seqs = append(seqs, predictorSeq{"Bitstring", "hBitstring", d.Bitstring, 2})
	}
	return seqs
}

type predictorSeq struct {
	label   string // "Literal" or "Bitstring" in the verbose output
	jsonKey string // "hOriginal" or "hBitstring" in the JSON
	s       []byte
	k       int
}

// checkPredictor compares a predictor's result with what the tool printed
// for it: C, N and r exactly; P_global, P_global', P_local (or that it
// could not change the result) and the min-entropy to relTol, in the
// verbose text and in the JSON.
func checkPredictor(t *testing.T, c noniidCase, q predictorSeq, tool string, got PredictionResult) {
	t.Helper()
	p := q.label + " " + tool + " Prediction Estimate: "
	for _, f := range []struct {
		key string
		got int
	}{{"C", got.C}, {"N", got.N}, {"r", got.R}} {
		want, err := strconv.Atoi(c.verbose[p+f.key])
		require.NoError(t, err, "%s: %s%s", c.name, p, f.key)
		assert.Equal(t, want, f.got, "%s%s", p, f.key)
	}
	checkClose(t, p+"P_global", got.PGlobal, c.num(t, p+"P_global"))
	checkClose(t, p+"P_global'", got.PGlobalPrime, c.num(t, p+"P_global'"))
	if c.has(p + "P_local can't change the result.") {
		assert.Zero(t, got.PLocal, "%sP_local, the tool did not need it", p)
	} else {
		checkClose(t, p+"P_local", got.PLocal, c.num(t, p+"P_local"))
	}
	checkClose(t, p+"min entropy", got.MinEntropy, c.num(t, p+"min entropy"))

	var found bool
	for _, tc := range c.json.TestCases {
		if tc["testCaseDesc"] != got.Name {
			continue
		}
		found = true
		want, ok := tc[q.jsonKey].(float64)
		require.True(t, ok, "%s: no %s for %q in the JSON", c.name, q.jsonKey, got.Name)
		checkClose(t, "JSON "+q.jsonKey, got.MinEntropy, want)
	}
	assert.True(t, found, "%s: no JSON test case named %q", c.name, got.Name)
}

// TestMultiMMCMatchesTool runs the estimator on every reference file as the
// tool does (the samples, and the bitstring of multi-bit samples) and
// compares every value the tool printed.
func TestMultiMMCMatchesTool(t *testing.T) {
	for _, c := range loadNoniidCases(t) {
		t.Run(c.name, func(t *testing.T) {
			for _, q := range predictorSeqs(t, c.raw) {
				got := MultiMMC(q.s, q.k)
				assert.Equal(t, multiMMCSection, got.Section, "Section")
				checkPredictor(t, c, q, "MultiMMC", got)
			}
		})
	}
}

// naiveMultiMMC is Section 6.3.9 as the tool's multi_mmc_test writes it,
// with maps keyed by the context's symbols, for checking the fast code.
func naiveMultiMMC(s []byte) (c, maxRun int) {
	type postfix struct {
		counts map[byte]int
		best   int
		pred   byte
	}
	// increment is the tool's PostfixDictionary.incrementPostfix.
	increment := func(p *postfix, y byte, makeNew bool) bool {
		n, ok := p.counts[y]
		if !ok && !makeNew {
			return false
		}
		n++
		p.counts[y] = n
		if n > p.best || (n == p.best && y > p.pred) {
			p.best, p.pred = n, y
		}
		return !ok
	}
	var (
		dicts   [mmcDepth]map[string]*postfix
		entries [mmcDepth]int
		score   [mmcDepth]int
		winner  int
		run     int
	)
	at := func(d int, x string) *postfix {
		p := dicts[d][x]
		if p == nil {
			p = &postfix{counts: map[byte]int{}}
			dicts[d][x] = p
		}
		return p
	}
	for d := range dicts {
		dicts[d] = map[string]*postfix{}
	}
	n := len(s) - 2
	for d := 0; d < mmcDepth && d < n; d++ {
		increment(at(d, string(s[:d+1])), s[d+1], true)
		entries[d] = 1
	}
	for i := 2; i < len(s); i++ {
		cur := winner
		found := false
		for d := 0; d < mmcDepth && i-2 >= d; d++ {
			x := string(s[i-d-1 : i])
			var p *postfix
			if d == 0 || found {
				p, found = dicts[d][x]
			}
			if found {
				if p.pred == s[i] {
					score[d]++
					if score[d] >= score[winner] {
						winner = d
					}
					if d == cur {
						c++
						run++
						maxRun = max(maxRun, run)
					}
				} else if d == cur {
					run = 0
				}
				if increment(p, s[i], entries[d] < mmcMaxEntries) {
					entries[d]++
				}
			} else if entries[d] < mmcMaxEntries {
				increment(at(d, x), s[i], true)
				entries[d]++
			}
		}
	}
	return c, maxRun
}

// randomSymbols returns n symbols in 0..k-1 from a seeded generator, each
// repeating the one before with probability stick/100, so that long
// contexts recur and the dictionaries fill unevenly.
func randomSymbols(seed uint64, n, k, stick int) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(k)))
	s := make([]byte, n)
	for i := range s {
		if i > 0 && r.IntN(100) < stick {
			s[i] = s[i-1]
		} else {
			s[i] = byte(r.IntN(k))
		}
	}
	return s
}

// TestMultiMMCNaive compares the fast code with the tool's algorithm written
// plainly, on sequences of several alphabets and lengths, some long enough
// for the 100,000-entry limit; for k == 2 both the array code and the trie
// code. (The reference files reach the limit in every way too.)
func TestMultiMMCNaive(t *testing.T) {
	for _, tc := range []struct{ n, k, stick int }{
		{4, 3, 0}, {5, 2, 0}, {17, 2, 0}, {18, 5, 50}, {40, 2, 90}, {300, 3, 0},
		{3000, 2, 0}, {3000, 2, 95}, {5000, 4, 30}, {5000, 256, 0}, {20000, 7, 80},
		{200_000, 2, 0}, {110_000, 200, 0},
	} {
		if testing.Short() && tc.n > 20000 {
			continue
		}
		s := randomSymbols(uint64(tc.n), tc.n, tc.k, tc.stick)
		c, r := naiveMultiMMC(s)
		gc, gr := multiMMCSymbols(s, tc.k)
		assert.Equal(t, c, gc, "n=%d k=%d stick=%d: trie C, tool's algorithm C", tc.n, tc.k, tc.stick)
		assert.Equal(t, r, gr, "n=%d k=%d stick=%d: trie run, tool's algorithm run", tc.n, tc.k, tc.stick)
		if tc.k == 2 {
			bc, br := multiMMCBinary(s)
			assert.Equal(t, c, bc, "n=%d stick=%d: arrays C, tool's algorithm C", tc.n, tc.stick)
			assert.Equal(t, r, br, "n=%d stick=%d: arrays run, tool's algorithm run", tc.n, tc.stick)
		}
	}
}

// TestMultiMMCShort checks the smallest inputs: skipped below 4 samples or
// with one symbol, computed from 4 on.
func TestMultiMMCShort(t *testing.T) {
	for _, s := range [][]byte{nil, {1}, {0, 1, 0}} {
		got := MultiMMC(s, 2)
		assert.False(t, got.Ran(), "MultiMMC(%v) ran: %+v", s, got)
		assert.NotEmpty(t, got.Skipped, "MultiMMC(%v): no reason for the skip", s)
	}
	got := MultiMMC([]byte{0, 0, 0, 0}, 1)
	assert.False(t, got.Ran(), "MultiMMC with k = 1 ran: %+v", got)
	got = MultiMMC([]byte{0, 1, 0, 1, 0, 1}, 2)
	assert.True(t, got.Ran(), "MultiMMC(010101) skipped: %s", got.Skipped)
	assert.Equal(t, 4, got.N, "MultiMMC(010101): N")
	assert.Equal(t, multiMMCName, got.Name, "MultiMMC(010101): Name")
}

// FuzzMultiMMC compares the fast code with the tool's algorithm on any
// input: the first byte picks the alphabet size.
func FuzzMultiMMC(f *testing.F) {
	f.Add([]byte{2, 0, 1, 1, 0, 1, 0, 0, 1})
	f.Add([]byte{5, 4, 4, 4, 1, 2, 3, 4, 4, 4, 1, 2, 3, 0})
	for _, name := range []string{"rand1_short", "rand4_short", "rand8_short"} {
		if raw := seedSamples(f, name); raw != nil {
			f.Add(append([]byte{byte(len(name))}, raw[:400]...))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 5 || len(in) > 4000 {
			t.Skip()
		}
		k := max(2, int(in[0]))
		s := make([]byte, len(in)-1)
		for i, b := range in[1:] {
			s[i] = byte(int(b) % k)
		}
		c, r := naiveMultiMMC(s)
		gc, gr := multiMMCSymbols(s, k)
		require.Equal(t, c, gc, "k=%d: trie C, tool's algorithm C", k)
		require.Equal(t, r, gr, "k=%d: trie run, tool's algorithm run", k)
		for i := range s {
			s[i] &= 1
		}
		c, r = naiveMultiMMC(s)
		bc, br := multiMMCBinary(s)
		require.Equal(t, c, bc, "bits: arrays C, tool's algorithm C")
		require.Equal(t, r, br, "bits: arrays run, tool's algorithm run")
	})
}

// benchSeqs returns the 1,000,000 8-bit samples of truerand_8bit and their
// 8,000,000-bit bitstring.
func benchSeqs(b *testing.B) (d *Data) {
	b.Helper()
	raw, err := os.ReadFile(filepath.Join(sp90bDir(b), "truerand_8bit.bin"))
	require.NoError(b, err)
	d, err = Prepare(raw, 0)
	require.NoError(b, err)
	return d
}

func benchPredictor(b *testing.B, f func([]byte, int) PredictionResult) {
	d := benchSeqs(b)
	for _, q := range []struct {
		name string
		s    []byte
		k    int
	}{{"samples", d.Symbols, d.K}, {"bitstring", d.Bitstring, 2}} {
		b.Run(q.name, func(b *testing.B) {
			b.SetBytes(int64(len(q.s)))
			b.ReportAllocs()
			for b.Loop() {
				f(q.s, q.k)
			}
		})
	}
}

func BenchmarkMultiMMC(b *testing.B) { benchPredictor(b, MultiMMC) }
