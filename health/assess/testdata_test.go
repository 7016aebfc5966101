package assess

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hsmentropy/hsmentropy/internal/nistdata"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The reference data are the sample files shipped with NIST's
// SP800-90B_EntropyAssessment (https://github.com/usnistgov/SP800-90B_EntropyAssessment,
// bin/, v1.1.7), and beside each X.bin the JSON (X.noniid.json) and verbose
// text (X.noniid.txt) that `ea_non_iid -vv` printed for it, in the
// sp800-90b directory of the reference data (see internal/nistdata).

// relTol is the agreement required with the tool: NIST's own builds agree
// with each other to about 1e-13.
const relTol = 1e-9

// sp90bDir returns the directory of NIST's sample files and its tool's
// results (internal/nistdata), or skips the test when there is none (fails
// it when HSMENTROPY_REQUIRE_TESTDATA=1).
func sp90bDir(t testing.TB) string {
	t.Helper()
	return filepath.Join(nistdata.Dir(t), "sp800-90b")
}

// seedSamples returns the samples of NIST's file name.bin for a fuzz
// target's seed corpus, or nil when there is no reference data: the seeds
// are extras, and the fuzz target runs without them.
func seedSamples(f *testing.F, name string) []byte {
	f.Helper()
	dir, err := nistdata.Find()
	if err != nil {
		return nil
	}
	raw, err := os.ReadFile(filepath.Join(dir, "sp800-90b", name+".bin"))
	require.NoError(f, err)
	return raw
}

// noniidCase is one reference file: its samples and what the tool printed.
type noniidCase struct {
	name    string
	raw     []byte
	json    toolJSON
	verbose map[string]string // "Bitstring Collision Estimate: v" -> "3199626"
}

// toolJSON is the part of the tool's JSON the tests read.
type toolJSON struct {
	TestCases []map[string]any `json:"testCases"`
}

// loadNoniidCases reads every X.noniid.json with its X.bin and X.noniid.txt.
func loadNoniidCases(t testing.TB) []noniidCase {
	t.Helper()
	dir := sp90bDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.noniid.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no *.noniid.json in %s", dir)
	var cases []noniidCase
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".noniid.json")
		c := noniidCase{name: name}
		js, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(js, &c.json), f)
		c.raw, err = os.ReadFile(filepath.Join(dir, name+".bin"))
		require.NoError(t, err)
		txt, err := os.ReadFile(filepath.Join(dir, name+".noniid.txt"))
		require.NoError(t, err)
		c.verbose = parseVerbose(txt)
		cases = append(cases, c)
	}
	return cases
}

// parseVerbose maps "<label> <estimator> Estimate: <key>" to its value, and
// bare "<key> = <value>" lines (H_original, …) to theirs.
func parseVerbose(txt []byte) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(txt))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " = ")
		if !ok {
			// "Bitstring Collision Estimate: Found p." and the like.
			if k, v, ok = strings.Cut(sc.Text(), "Estimate: "); ok {
				m[k+"Estimate: "+v] = "true"
			}
			continue
		}
		m[k] = v
	}
	return m
}

// num returns the value of key in the verbose output, failing the test if it
// is missing.
func (c noniidCase) num(t *testing.T, key string) float64 {
	t.Helper()
	s, ok := c.verbose[key]
	require.True(t, ok, "%s: no %q in the tool's verbose output", c.name, key)
	f, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err, "%s: %q = %q", c.name, key, s)
	return f
}

// has reports whether the verbose output has key.
func (c noniidCase) has(key string) bool {
	_, ok := c.verbose[key]
	return ok
}

// checkClose fails unless got equals want to a relative relTol (exactly, for
// want == 0).
func checkClose(t *testing.T, what string, got, want float64) {
	t.Helper()
	assertRelClose(t, want, got, relTol, "%s = %.17g, the tool's %.17g", what, got, want)
}

// assertRelClose asserts that got equals want to a relative tol:
// |got - want| ≤ tol·|want|. assert.InEpsilon cannot take a want of zero
// (no relative error), fails on two equal infinities, and lets NaN equal
// NaN; for those wants the check is exact equality, which NaN never passes.
func assertRelClose(t testing.TB, want, got, tol float64, msgAndArgs ...any) bool {
	t.Helper()
	if want == 0 || math.IsInf(want, 0) || math.IsNaN(want) {
		return assert.Equal(t, want, got, msgAndArgs...)
	}
	return assert.InEpsilon(t, want, got, tol, msgAndArgs...)
}

// TestEstimatorsMatchTool compares the Most Common Value, Collision, Markov
// and Compression estimates and every intermediate value the tool prints
// with the tool's verbose output, for every reference file: on the bitstring
// when the samples have more than two values, on the samples when they have
// two, as the tool runs them.
func TestEstimatorsMatchTool(t *testing.T) {
	for _, c := range loadNoniidCases(t) {
		t.Run(c.name, func(t *testing.T) {
			d, err := Prepare(c.raw, 0)
			require.NoError(t, err)
			type seq struct {
				label string
				s     []byte
				k     int
			}
			seqs := []seq{{"Literal", d.Symbols, d.K}}
			binary := []seq{{"Literal", d.Symbols, 2}}
			if d.K > 2 {
				binary = []seq{{"Bitstring", d.Bitstring, 2}}
				seqs = append(seqs, binary[0])
			}
			for _, q := range seqs {
				p := q.label + " Most Common Value Estimate: "
				r := MostCommonValue(q.s, q.k)
				checkClose(t, p+"Mode count", float64(r.Mode), c.num(t, p+"Mode count"))
				checkClose(t, p+"p-hat", r.PHat, c.num(t, p+"p-hat"))
				checkClose(t, p+"p_u", r.PU, c.num(t, p+"p_u"))
				checkClose(t, p+"min entropy", r.MinEntropy, c.num(t, p+"min entropy"))
			}
			for _, q := range binary {
				p := q.label + " Collision Estimate: "
				col := Collision(q.s)
				checkClose(t, p+"v", float64(col.V), c.num(t, p+"v"))
				checkClose(t, p+"Sum t_i", float64(col.SumT), c.num(t, p+"Sum t_i"))
				checkClose(t, p+"X-bar", col.XBar, c.num(t, p+"X-bar"))
				checkClose(t, p+"sigma-hat", col.SigmaHat, c.num(t, p+"sigma-hat"))
				checkClose(t, p+"X-bar'", col.XBarPrime, c.num(t, p+"X-bar'"))
				checkClose(t, p+"p", col.P, c.num(t, p+"p"))
				checkClose(t, p+"min entropy", col.MinEntropy, c.num(t, p+"min entropy"))
				assert.Equal(t, c.has(p+"Found p."), col.Found, "%sFound", p)

				p = q.label + " Markov Estimate: "
				mk := Markov(q.s)
				for _, f := range []struct {
					key string
					got float64
				}{
					{"P_0", mk.P0}, {"P_1", mk.P1},
					{"P_{0,0}", mk.P00}, {"P_{0,1}", mk.P01}, {"P_{1,0}", mk.P10}, {"P_{1,1}", mk.P11},
					{"p-hat_max", mk.PHatMax}, {"min entropy", mk.MinEntropy},
				} {
					checkClose(t, p+f.key, f.got, c.num(t, p+f.key))
				}

				p = q.label + " Compression Estimate: "
				cm := Compression(q.s)
				checkClose(t, p+"X-bar", cm.XBar, c.num(t, p+"X-bar"))
				checkClose(t, p+"sigma-hat", cm.SigmaHat, c.num(t, p+"sigma-hat"))
				checkClose(t, p+"X-bar'", cm.XBarPrime, c.num(t, p+"X-bar'"))
				checkClose(t, p+"p", cm.P, c.num(t, p+"p"))
				checkClose(t, p+"min entropy", cm.MinEntropy, c.num(t, p+"min entropy"))
				assert.Equal(t, c.has(p+"Found p."), cm.Found, "%sFound", p)
			}
		})
	}
}

// TestNonIIDMatchesTool runs the whole non-IID track on every reference
// file and compares every value of the report with the tool's JSON (same
// test cases, same fields, values to a relative 1e-9), and every line of the
// verbose output with the tool's -vv text (same keys, numbers to 1e-9).
func TestNonIIDMatchesTool(t *testing.T) {
	for _, c := range loadNoniidCases(t) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d, err := Prepare(c.raw, 0)
			require.NoError(t, err)
			r, err := NonIID(t.Context(), d, NonIIDOptions{Workers: 1})
			require.NoError(t, err)
			compareReport(t, r.Report(RunInfo{}), c.json)

			var buf bytes.Buffer
			require.NoError(t, r.WriteVerbose(&buf))
			compareVerbose(t, parseVerbose(buf.Bytes()), c.verbose)
		})
	}
}

// compareReport checks that got has the tool's test cases with the same
// numeric fields and values.
func compareReport(t *testing.T, got NonIIDReport, want toolJSON) {
	t.Helper()
	js, err := json.Marshal(got)
	require.NoError(t, err)
	var ours toolJSON
	require.NoError(t, json.Unmarshal(js, &ours))
	require.Len(t, ours.TestCases, len(want.TestCases), "test cases: the tool has %d", len(want.TestCases))
	for i, w := range want.TestCases {
		g := ours.TestCases[i]
		desc := w["testCaseDesc"]
		if !assert.Equal(t, desc, g["testCaseDesc"], "test case %d", i) {
			continue
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !assert.True(t, ok, "%s: no %s (the tool's %v)", desc, k, wv) {
				continue
			}
			if wf, isNum := wv.(float64); isNum {
				checkClose(t, fmt.Sprintf("%s: %s", desc, k), gv.(float64), wf)
			}
		}
		for k, gv := range g {
			assert.Contains(t, w, k, "%s: %s = %v, which the tool does not report", desc, k, gv)
		}
	}
}

// compareVerbose checks that got has every key of the tool's verbose
// output and no other, with the same values.
func compareVerbose(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, wv := range want {
		gv, ok := got[k]
		if !assert.True(t, ok, "verbose: no %q (the tool's %s)", k, wv) {
			continue
		}
		wf, werr := strconv.ParseFloat(wv, 64)
		gf, gerr := strconv.ParseFloat(gv, 64)
		if werr != nil || gerr != nil {
			assert.Equal(t, wv, gv, "verbose: %q", k)
			continue
		}
		checkClose(t, "verbose: "+k, gf, wf)
	}
	for k, gv := range got {
		_, ok := want[k] // not assert.Contains: it would print all of want
		assert.True(t, ok, "verbose: %q = %q, which the tool does not print", k, gv)
	}
}
