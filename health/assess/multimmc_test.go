package assess

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// predictorSeqs returns the sequences the tool runs a predictor on for one
// reference file, labelled as its verbose output labels them: the samples
// ("Literal") and, when they have more than two values, the bitstring.
func predictorSeqs(t *testing.T, raw []byte) []predictorSeq {
	t.Helper()
	d, err := Prepare(raw, 0)
	if err != nil {
		t.Fatal(err)
	}
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
		if err != nil {
			t.Fatalf("%s: %s%s: %v", c.name, p, f.key, err)
		}
		if f.got != want {
			t.Errorf("%s%s = %d, the tool's %d", p, f.key, f.got, want)
		}
	}
	checkClose(t, p+"P_global", got.PGlobal, c.num(t, p+"P_global"))
	checkClose(t, p+"P_global'", got.PGlobalPrime, c.num(t, p+"P_global'"))
	if c.has(p + "P_local can't change the result.") {
		if got.PLocal != 0 {
			t.Errorf("%sP_local = %g, the tool did not need it", p, got.PLocal)
		}
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
		if !ok {
			t.Fatalf("%s: no %s for %q in the JSON", c.name, q.jsonKey, got.Name)
		}
		checkClose(t, "JSON "+q.jsonKey, got.MinEntropy, want)
	}
	if !found {
		t.Errorf("%s: no JSON test case named %q", c.name, got.Name)
	}
}

// TestMultiMMCMatchesTool runs the estimator on every reference file as the
// tool does (the samples, and the bitstring of multi-bit samples) and
// compares every value the tool printed.
func TestMultiMMCMatchesTool(t *testing.T) {
	for _, c := range loadNoniidCases(t) {
		t.Run(c.name, func(t *testing.T) {
			for _, q := range predictorSeqs(t, c.raw) {
				got := MultiMMC(q.s, q.k)
				if got.Section != multiMMCSection {
					t.Errorf("Section = %q", got.Section)
				}
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
		if gc != c || gr != r {
			t.Errorf("n=%d k=%d stick=%d: trie C=%d run=%d, tool's algorithm C=%d run=%d", tc.n, tc.k, tc.stick, gc, gr, c, r)
		}
		if tc.k == 2 {
			if bc, br := multiMMCBinary(s); bc != c || br != r {
				t.Errorf("n=%d stick=%d: arrays C=%d run=%d, tool's algorithm C=%d run=%d", tc.n, tc.stick, bc, br, c, r)
			}
		}
	}
}

// TestMultiMMCShort checks the smallest inputs: skipped below 4 samples or
// with one symbol, computed from 4 on.
func TestMultiMMCShort(t *testing.T) {
	for _, s := range [][]byte{nil, {1}, {0, 1, 0}} {
		if got := MultiMMC(s, 2); got.Ran() || got.Skipped == "" {
			t.Errorf("MultiMMC(%v) ran: %+v", s, got)
		}
	}
	if got := MultiMMC([]byte{0, 0, 0, 0}, 1); got.Ran() {
		t.Errorf("MultiMMC with k = 1 ran: %+v", got)
	}
	got := MultiMMC([]byte{0, 1, 0, 1, 0, 1}, 2)
	if !got.Ran() || got.N != 4 || got.Name != multiMMCName {
		t.Errorf("MultiMMC(010101) = %+v", got)
	}
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
		if gc, gr := multiMMCSymbols(s, k); gc != c || gr != r {
			t.Fatalf("k=%d: trie C=%d run=%d, tool's algorithm C=%d run=%d", k, gc, gr, c, r)
		}
		for i := range s {
			s[i] &= 1
		}
		c, r = naiveMultiMMC(s)
		if bc, br := multiMMCBinary(s); bc != c || br != r {
			t.Fatalf("bits: arrays C=%d run=%d, tool's algorithm C=%d run=%d", bc, br, c, r)
		}
	})
}

// benchSeqs returns the 1,000,000 8-bit samples of truerand_8bit and their
// 8,000,000-bit bitstring.
func benchSeqs(b *testing.B) (d *Data) {
	b.Helper()
	raw, err := os.ReadFile(filepath.Join(sp90bDir(b), "truerand_8bit.bin"))
	if err != nil {
		b.Fatal(err)
	}
	if d, err = Prepare(raw, 0); err != nil {
		b.Fatal(err)
	}
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
