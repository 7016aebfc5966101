package assess

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hsmentropy/hsmentropy/internal/nistdata"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The restart reference sets are in sp800-90b-restart of the reference data:
// four 1000×1000 sets made by a deterministic generator, each with the
// JSON and text of NIST's ea_restart v1.1.7 (X.restart.json, X.restart.txt)
// and of the tool's H_I run on the same file (X.hi.json); its README has
// every command line.

// restartTestdata returns the restart reference directory (see
// internal/nistdata), or skips (fails with HSMENTROPY_REQUIRE_TESTDATA=1)
// when there is none.
func restartTestdata(t testing.TB) string {
	t.Helper()
	return filepath.Join(nistdata.Dir(t), "sp800-90b-restart")
}

// restartCase is one reference set and what the tool made of it.
type restartCase struct {
	name     string
	raw      []byte
	iid      bool
	bits     int
	hI       float64 // the H_I the tool was given (its H_I run's result)
	xCutoff  int     // from the tool's text output
	xMax     int
	tool     toolRestartJSON
	toolText string
}

type toolRestartJSON struct {
	IID          bool             `json:"IID"`
	ErrorLevel   int              `json:"errorLevel"`
	ErrorMessage string           `json:"errorMessage"`
	TestCases    []map[string]any `json:"testCases"`
}

var restartXRe = regexp.MustCompile(`X_cutoff: (\d+)\nX_max: (\d+)\n`)

// loadRestartCase reads X.bin, X.restart.json and X.restart.txt; the mode,
// bits and H_I come from the tool's command line.
func loadRestartCase(t testing.TB, dir, name string) restartCase {
	t.Helper()
	c := restartCase{name: name}
	var err error
	c.raw, err = os.ReadFile(filepath.Join(dir, name+".bin"))
	require.NoError(t, err)
	js, err := os.ReadFile(filepath.Join(dir, name+".restart.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(js, &c.tool))
	var head struct {
		Commandline string `json:"commandline"`
	}
	require.NoError(t, json.Unmarshal(js, &head))
	// ea_restart -i|-n -v -v -o OUT FILE BITS H_I
	f := strings.Fields(head.Commandline)
	require.Len(t, f, 9, "command line %q", head.Commandline)
	c.iid = f[1] == "-i"
	c.bits, err = strconv.Atoi(f[7])
	require.NoError(t, err)
	c.hI, err = strconv.ParseFloat(f[8], 64)
	require.NoError(t, err)
	txt, err := os.ReadFile(filepath.Join(dir, name+".restart.txt"))
	require.NoError(t, err)
	c.toolText = string(txt)
	m := restartXRe.FindStringSubmatch(c.toolText)
	require.NotNil(t, m, "no X_cutoff/X_max in %s.restart.txt", name)
	c.xCutoff, _ = strconv.Atoi(m[1])
	c.xMax, _ = strconv.Atoi(m[2])
	return c
}

// data prepares the case's samples.
func (c restartCase) data(t testing.TB) *Data {
	t.Helper()
	d, err := Prepare(c.raw, c.bits)
	require.NoError(t, err)
	return d
}

var restartSets = []string{"S1", "S2", "S3", "S4"}

// TestRestartCutoffMatchesTool checks X_cutoff against the tool's on every
// set, and S3's against its four runs.
func TestRestartCutoffMatchesTool(t *testing.T) {
	dir := restartTestdata(t)
	for _, name := range restartSets {
		t.Run(name, func(t *testing.T) {
			c := loadRestartCase(t, dir, name)
			got, err := RestartCutoff(c.hI, 1<<c.bits)
			require.NoError(t, err)
			assert.Equal(t, c.xCutoff, got, "X_cutoff for H_I %v", c.hI)
		})
	}
	reps, err := filepath.Glob(filepath.Join(dir, "S3.restart.rep*.txt"))
	require.NoError(t, err)
	require.NotEmpty(t, reps)
	c := loadRestartCase(t, dir, "S3")
	want, err := RestartCutoff(c.hI, 256)
	require.NoError(t, err)
	for _, rep := range reps {
		txt, err := os.ReadFile(rep)
		require.NoError(t, err)
		m := restartXRe.FindStringSubmatch(string(txt))
		require.NotNil(t, m, rep)
		assert.Equal(t, m[1], strconv.Itoa(want), rep)
	}
}

// TestRestartCutoffQuantile checks the defining property at the cutoff and
// one below: P(max > X_cutoff) ≤ α < P(max > X_cutoff - 1), against a
// direct sum over the binomial distribution for two symbols (H_I ≤ 1), where
// max > x means the first symbol's count is above x or below n-x.
func TestRestartCutoffQuantile(t *testing.T) {
	for _, hI := range []float64{0.2, 0.5, 0.73458941967107172, 0.99} {
		x, err := RestartCutoff(hI, 2)
		require.NoError(t, err)
		tail := func(x int) float64 { return binomialMaxTail(x, pow2(-hI), RestartColumns) }
		assert.LessOrEqual(t, tail(x), RestartAlpha, "H_I %v: P(max > %d)", hI, x)
		assert.Greater(t, tail(x-1), RestartAlpha, "H_I %v: P(max > %d)", hI, x-1)
		assert.InDelta(t, tail(x), 1-maxCountAtMost(x, pow2(-hI), RestartColumns), 1e-13)
	}
}

// TestRestartCutoffBounds checks the edges: no entropy allows every count,
// and H_I above what K values carry is refused, as the tool's assertion
// refuses it.
func TestRestartCutoffBounds(t *testing.T) {
	x, err := RestartCutoff(0, 2)
	require.NoError(t, err)
	assert.Equal(t, RestartColumns, x)
	_, err = RestartCutoff(1.5, 2)
	assert.Error(t, err)
	_, err = RestartCutoff(8.01, 256)
	assert.Error(t, err)
	// Full entropy over 256 values: the binomial(1000, 1/256) tail.
	x, err = RestartCutoff(8, 256)
	require.NoError(t, err)
	assert.Greater(t, x, 1000/256)
	assert.Less(t, x, 25)
}

// binomialMaxTail returns P(max(c, n-c) > x) for c ~ Binomial(n, p).
func binomialMaxTail(x int, p float64, n int) float64 {
	var s float64
	for c := 0; c <= n; c++ {
		if c > x || n-c > x {
			s += binomialPMF(n, c, p)
		}
	}
	return s
}

func binomialPMF(n, c int, p float64) float64 {
	lg := func(k int) float64 { v, _ := math.Lgamma(float64(k + 1)); return v }
	return math.Exp(lg(n) - lg(c) - lg(n-c) + float64(c)*math.Log(p) + float64(n-c)*math.Log1p(-p))
}

func pow2(x float64) float64 { return math.Pow(2, x) }
