package assess

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The IID reference data are truerand_8bit.bin and truerand_1bit.bin, shipped
// with NIST's SP800-90B_EntropyAssessment (v1.1.7), and beside each the JSON
// (X.iid.json) and verbose text (X.iid.txt) of `ea_iid -vv`, in the
// sp800-90b directory of the reference data (see internal/nistdata).

// iidRelTol is the agreement required with the tool's deterministic values.
const iidRelTol = 1e-9

// iidReference is one reference file with what the tool printed for it.
type iidReference struct {
	name    string
	raw     []byte
	verbose map[string]string // "Chi square independence: T" -> "65643.308565352563"
	json    map[string]any    // testCases[0]
}

// loadIIDReference reads X.bin, X.iid.json and X.iid.txt, or skips the test
// when there is no reference data (fails when HSMENTROPY_REQUIRE_TESTDATA=1).
func loadIIDReference(t testing.TB, name string) iidReference {
	t.Helper()
	dir := sp90bDir(t)
	ref := iidReference{name: name, verbose: map[string]string{}}
	var err error
	ref.raw, err = os.ReadFile(filepath.Join(dir, name+".bin"))
	require.NoError(t, err)
	js, err := os.ReadFile(filepath.Join(dir, name+".iid.json"))
	require.NoError(t, err)
	var doc struct {
		TestCases []map[string]any `json:"testCases"`
	}
	require.NoError(t, json.Unmarshal(js, &doc), "%s.iid.json", name)
	require.Len(t, doc.TestCases, 1, "%s.iid.json: test cases", name)
	ref.json = doc.TestCases[0]
	txt, err := os.ReadFile(filepath.Join(dir, name+".iid.txt"))
	require.NoError(t, err)
	sc := bufio.NewScanner(bytes.NewReader(txt))
	for sc.Scan() {
		// "Chi square independence: T = 65643.3…", and a few lines such as
		// "Assessed min entropy: 7.865…" without " = ".
		if k, v, ok := strings.Cut(sc.Text(), " = "); ok {
			ref.verbose[k] = v
		} else if i := strings.LastIndex(sc.Text(), ": "); i > 0 {
			ref.verbose[sc.Text()[:i]] = sc.Text()[i+2:]
		}
	}
	return ref
}

// num returns a value of the tool's verbose output.
func (ref iidReference) num(t *testing.T, key string) float64 {
	t.Helper()
	s, ok := ref.verbose[key]
	require.True(t, ok, "%s: no %q in the tool's verbose output", ref.name, key)
	f, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err, "%s: %q = %q", ref.name, key, s)
	return f
}

// prepare returns the reference samples prepared as the tool prepares them.
func (ref iidReference) prepare(t testing.TB) *Data {
	t.Helper()
	d, err := Prepare(ref.raw, 0)
	require.NoError(t, err)
	return d
}

// checkRel fails unless got equals want to a relative iidRelTol (exactly,
// for want == 0).
func checkRel(t *testing.T, what string, got, want float64) {
	t.Helper()
	assertRelClose(t, want, got, iidRelTol, "%s = %.17g, the tool's %.17g", what, got, want)
}

func checkExact(t *testing.T, what string, got, want float64) {
	t.Helper()
	assert.Equal(t, want, got, "%s = %.17g, the tool's %.17g", what, got, want)
}

// TestIIDDeterministicMatchesTool compares everything of an IID run that does
// not depend on the shuffles with the tool's output: mean, median, the MCV
// estimates and H values, both chi-square tests (T, df, p-value, verdict),
// the LRS test (P_col, W, Pr(X >= 1), verdict) and the 19 permutation-test
// statistics of the unshuffled samples.
func TestIIDDeterministicMatchesTool(t *testing.T) {
	for _, name := range []string{"truerand_8bit", "truerand_1bit"} {
		t.Run(name, func(t *testing.T) {
			ref := loadIIDReference(t, name)
			d := ref.prepare(t)
			seed := [32]byte{1}
			r, err := IID(d, IIDOptions{Shuffles: 1, Seed: &seed})
			require.NoError(t, err)
			checkExact(t, "mean", r.Mean, ref.num(t, "Raw Mean"))
			checkExact(t, "median", r.Median, ref.num(t, "Median"))
			checkRel(t, "H_original", r.HOriginal, ref.num(t, "H_original"))
			checkRel(t, "assessed", r.HAssessed, ref.num(t, "Assessed min entropy"))
			checkRel(t, "json hBitstring", r.HBitstring, ref.json["hBitstring"].(float64))
			checkRel(t, "json hAssessed", r.HAssessed, ref.json["hAssessed"].(float64))
			if _, ok := ref.verbose["H_bitstring"]; ok {
				checkRel(t, "H_bitstring", r.HBitstring, ref.num(t, "H_bitstring"))
			}
			assert.Equal(t, ref.json["binary"] == true, r.Binary, "binary")

			cs := r.ChiSquare
			checkRel(t, "chi-square independence T", cs.IndependenceT, ref.num(t, "Chi square independence: T"))
			checkExact(t, "chi-square independence df", float64(cs.IndependenceDF), ref.num(t, "Chi square independence: df"))
			checkRel(t, "chi-square independence P", cs.IndependenceP, ref.num(t, "Chi square independence: P-value"))
			checkRel(t, "chi-square goodness-of-fit T", cs.GoodnessT, ref.num(t, "Chi square goodness of fit: T"))
			checkExact(t, "chi-square goodness-of-fit df", float64(cs.GoodnessDF), ref.num(t, "Chi square goodness of fit: df"))
			checkRel(t, "chi-square goodness-of-fit P", cs.GoodnessP, ref.num(t, "Chi square goodness of fit: P-value"))
			assert.Equal(t, ref.json["passedChiSquareTests"].(bool), r.PassedChiSquareTests, "passedChiSquareTests")

			const lrs = "Literal Longest Repeated Substring results: "
			checkRel(t, "LRS P_col", r.LRS.PCol, ref.num(t, lrs+"P_col"))
			checkExact(t, "LRS W", float64(r.LRS.W), ref.num(t, lrs+"W"))
			checkRel(t, "LRS Pr(X >= 1)", r.LRS.PAtLeastOne, ref.num(t, lrs+"Pr(X >= 1)"))
			assert.Equal(t, ref.json["passedLongestRepeatedSubstringTest"].(bool), r.PassedLongestRepeatedSubstringTest, "passedLongestRepeatedSubstringTest")

			// The JSON form has the tool's testCase keys.
			js, err := json.Marshal(&r)
			require.NoError(t, err)
			var keys map[string]any
			require.NoError(t, json.Unmarshal(js, &keys))
			for k := range ref.json {
				assert.Contains(t, keys, k, "JSON lacks the tool's key %q", k)
			}
			for k := range keys {
				assert.Contains(t, ref.json, k, "JSON has key %q the tool does not", k)
			}

			labels := r.Permutation.Labels()
			for i, st := range r.Permutation.Statistics {
				// Exact, the two fractional ones included: the tool prints
				// them to 22 digits.
				checkExact(t, st.Name, st.Value, ref.num(t, "Permutation testing: Unpermuted result "+labels[i]))
			}
		})
	}
}

// TestIIDVerdictsMatchTool runs the full assessment with the standard's
// 10,000 shuffles and early stop, and compares every verdict with the
// tool's: the shuffles are random, so only the verdicts can agree.
func TestIIDVerdictsMatchTool(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("the full 10,000-shuffle run takes seconds to minutes; not with -short or -race")
	}
	for _, name := range []string{"truerand_8bit", "truerand_1bit"} {
		t.Run(name, func(t *testing.T) {
			ref := loadIIDReference(t, name)
			d := ref.prepare(t)
			start := time.Now()
			r, err := IID(d, IIDOptions{})
			require.NoError(t, err)
			t.Logf("%s: %d shuffles in %v", name, r.Permutation.Shuffles, time.Since(start))
			for key, got := range map[string]bool{
				"passedChiSquareTests":               r.PassedChiSquareTests,
				"passedLongestRepeatedSubstringTest": r.PassedLongestRepeatedSubstringTest,
				"passedIidPermutationTests":          r.PassedIIDPermutationTests,
			} {
				assert.Equal(t, ref.json[key].(bool), got, key)
			}
			// The tool's counts: a statistic passed iff C0+C1 > 5 and C1+C2 > 5.
			counts := ref.json["permutationTestResults"].([]any)
			for _, st := range r.Permutation.Statistics {
				var c [3]float64
				for _, it := range counts {
					m := it.(map[string]any)
					c[int(m["iteration"].(float64))] = m[st.Name].(float64)
				}
				toolPassed := c[0]+c[1] > permDecided && c[1]+c[2] > permDecided
				assert.Equal(t, toolPassed, st.Passed, "%s passed (%d/%d/%d), the tool's counts %v", st.Name, st.Greater, st.Equal, st.Less, c)
			}
		})
	}
}

// TestPermutationReproducible checks that a seeded run gives the same counts
// whatever the number of workers, and that another seed gives other counts.
func TestPermutationReproducible(t *testing.T) {
	d := mustPrepare(t, randomSamples(10000, 256, 7))
	run := func(seed byte, workers int) PermutationResult {
		s := [32]byte{seed}
		r, err := IID(d, IIDOptions{Shuffles: 200, Seed: &s, Workers: workers})
		require.NoError(t, err)
		return r.Permutation
	}
	a, b, c := run(1, 1), run(1, 3), run(2, 2)
	assert.Equal(t, a, b, "same seed, 1 and 3 workers")
	assert.NotEqual(t, a, c, "seeds 1 and 2 gave identical counts")
	for _, st := range a.Statistics {
		n := st.Greater + st.Equal + st.Less
		assert.Positive(t, n, "%s counted no shuffles", st.Name)
		assert.LessOrEqual(t, n, a.Shuffles, "%s counted more shuffles than were run", st.Name)
	}
}

// TestPermutationDetectsDependence feeds strongly dependent samples (a slow
// random walk, and bits that repeat with probability 0.9) to the permutation
// tests: the statistics that measure dependence must rank the original in a
// tail and fail, and so must the whole test.
func TestPermutationDetectsDependence(t *testing.T) {
	walk := make([]byte, 5000)
	sticky := make([]byte, 5000)
	rng := rand.New(rand.NewPCG(3, 4))
	v := 128
	for i := range walk {
		v = min(max(v+rng.IntN(5)-2, 0), 255)
		walk[i] = byte(v)
		sticky[i] = byte(rng.IntN(2))
		if i > 0 && rng.IntN(10) != 0 {
			sticky[i] = sticky[i-1]
		}
	}
	for _, tc := range []struct {
		name    string
		samples []byte
		failing []string
	}{
		{"random walk", walk, []string{"excursion", "numRunsMedian", "lenRunsMedian", "periodicity1", "covariance1", "compression"}},
		{"sticky bits", sticky, []string{"numRunsMedian", "lenRunsMedian", "periodicity1", "covariance1", "compression"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed := [32]byte{9}
			r, err := IID(mustPrepare(t, tc.samples), IIDOptions{Shuffles: 100, Seed: &seed})
			require.NoError(t, err)
			assert.False(t, r.PassedIIDPermutationTests, "dependent samples passed the permutation tests")
			assert.False(t, r.Passed(), "dependent samples passed the IID assessment")
			failed := map[string]bool{}
			for _, st := range r.Permutation.Statistics {
				failed[st.Name] = !st.Passed
			}
			for _, name := range tc.failing {
				assert.True(t, failed[name], "%s passed on dependent samples", name)
			}
		})
	}
}

// TestIIDRejectsBadInput checks the argument errors.
func TestIIDRejectsBadInput(t *testing.T) {
	_, err := IID(nil, IIDOptions{})
	assert.Error(t, err, "nil data accepted")
	_, err = IID(&Data{Symbols: []byte{0, 0}, Raw: []byte{0, 0}, K: 1}, IIDOptions{})
	assert.Error(t, err, "one symbol accepted")
	d := mustPrepare(t, []byte{1, 2, 3, 1})
	_, err = IID(d, IIDOptions{Shuffles: -1})
	assert.Error(t, err, "negative shuffles accepted")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = IIDContext(ctx, d, IIDOptions{})
	assert.ErrorIs(t, err, context.Canceled, "cancelled run")
}

// TestIIDProgress checks that progress reaches the number of shuffles run.
func TestIIDProgress(t *testing.T) {
	d := mustPrepare(t, randomSamples(3000, 16, 5))
	last, calls := 0, 0
	seed := [32]byte{4}
	r, err := IID(d, IIDOptions{Shuffles: 50, Seed: &seed, Workers: 2, Progress: func(done, total int) {
		calls++
		assert.Equal(t, 50, total, "progress(%d, %d) after %d: total", done, total, last)
		assert.Greater(t, done, last, "progress(%d, %d) after %d: not increasing", done, total, last)
		assert.LessOrEqual(t, done, total, "progress(%d, %d) after %d: beyond the total", done, total, last)
		last = done
	}})
	require.NoError(t, err)
	assert.Positive(t, calls, "no progress calls")
	assert.GreaterOrEqual(t, last, r.Permutation.Shuffles, "last progress %d, %d shuffles", last, r.Permutation.Shuffles)
}

func mustPrepare(t testing.TB, raw []byte) *Data {
	t.Helper()
	d, err := Prepare(raw, 0)
	require.NoError(t, err)
	return d
}

func randomSamples(n, k int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.IntN(k))
	}
	return b
}
