package assess

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ptCase is one sample file shipped with SP800-90B_EntropyAssessment 1.1.7,
// with what `ea_non_iid -vv` printed for it: the verbose text as
// "label: key" -> value, and the JSON test cases by testCaseDesc.
type ptCase struct {
	name string
	raw  []byte
	txt  map[string]string
	json map[string]map[string]float64
	data *Data
}

var (
	ptOnce  sync.Once
	ptCases []*ptCase
	ptErr   error
)

// ptLoad reads every sample file and the tool's output for it, once.
func ptLoad(t testing.TB) []*ptCase {
	t.Helper()
	dir := sp90bDir(t)
	ptOnce.Do(func() { ptCases, ptErr = ptRead(dir) })
	require.NoError(t, ptErr)
	require.NotEmpty(t, ptCases, "no *.noniid.txt files in %s", dir)
	return ptCases
}

func ptRead(dir string) ([]*ptCase, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.noniid.txt"))
	if err != nil {
		return nil, err
	}
	var cases []*ptCase
	for _, txtName := range names {
		base := strings.TrimSuffix(txtName, ".noniid.txt")
		c := &ptCase{name: filepath.Base(base), txt: map[string]string{}, json: map[string]map[string]float64{}}
		if c.raw, err = os.ReadFile(base + ".bin"); err != nil {
			return nil, err
		}
		txt, err := os.ReadFile(txtName)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(txt))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), " = "); ok {
				c.txt[k] = v
			}
		}
		js, err := os.ReadFile(base + ".noniid.json")
		if err != nil {
			return nil, err
		}
		var doc struct {
			TestCases []map[string]any `json:"testCases"`
		}
		if err := json.Unmarshal(js, &doc); err != nil {
			return nil, err
		}
		for _, tc := range doc.TestCases {
			m := map[string]float64{}
			for k, v := range tc {
				if f, ok := v.(float64); ok {
					m[k] = f
				}
			}
			c.json[tc["testCaseDesc"].(string)] = m
		}
		if c.data, err = Prepare(c.raw, 0); err != nil {
			return nil, err
		}
		cases = append(cases, c)
	}
	return cases, nil
}

// sequences returns the sequences the tool assesses for c: the bitstring
// (alphabet 2) when the samples are wider than one bit, then the literal
// samples (alphabet K), with the tool's labels.
func (c *ptCase) sequences() []ptSeq {
	var out []ptSeq
	if c.data.K > 2 {
		out = append(out, ptSeq{"Bitstring", c.data.Bitstring, 2})
	}
	return append(out, ptSeq{"Literal", c.data.Symbols, c.data.K})
}

type ptSeq struct {
	label string
	s     []byte
	k     int
}

// float returns the value the tool printed for key, failing the test when
// it is missing.
func (c *ptCase) float(t *testing.T, key string) float64 {
	t.Helper()
	v, ok := c.txt[key]
	require.True(t, ok, "%s: tool output has no %q", c.name, key)
	f, err := strconv.ParseFloat(v, 64)
	require.NoError(t, err, "%s: %q", c.name, key)
	return f
}

func (c *ptCase) int(t *testing.T, key string) int {
	t.Helper()
	v, ok := c.txt[key]
	require.True(t, ok, "%s: tool output has no %q", c.name, key)
	n, err := strconv.Atoi(v)
	require.NoError(t, err, "%s: %q", c.name, key)
	return n
}

// ptTol is the agreement asked of every estimate: a relative 1e-9.
const ptTol = 1e-9

// ptCheck fails unless got equals want to a relative ptTol (exactly, for
// want == 0).
func ptCheck(t *testing.T, what string, got, want float64) {
	t.Helper()
	assertRelClose(t, want, got, ptTol, "%s = %.17g, tool %.17g", what, got, want)
}

// ptCheckPrediction compares a prediction result with the tool's verbose
// output for "<label> <test> Prediction Estimate".
func ptCheckPrediction(t *testing.T, c *ptCase, label, test string, got PredictionResult) {
	t.Helper()
	pre := label + " " + test + " Prediction Estimate: "
	assert.Equal(t, c.int(t, pre+"C"), got.C, "%sC", pre)
	assert.Equal(t, c.int(t, pre+"N"), got.N, "%sN", pre)
	assert.Equal(t, c.int(t, pre+"r"), got.R, "%sr", pre)
	ptCheck(t, pre+"P_global", got.PGlobal, c.float(t, pre+"P_global"))
	ptCheck(t, pre+"P_global'", got.PGlobalPrime, c.float(t, pre+"P_global'"))
	if _, ok := c.txt[pre+"P_local"]; ok {
		ptCheck(t, pre+"P_local", got.PLocal, c.float(t, pre+"P_local"))
	} else {
		assert.Zero(t, got.PLocal, "%sP_local, tool: can't change the result", pre)
	}
	ptCheck(t, pre+"min entropy", got.MinEntropy, c.float(t, pre+"min entropy"))
	ptCheck(t, pre+"P", got.P, math.Exp2(-c.float(t, pre+"min entropy")))
}

// TestPredictionEstimate feeds the counts the tool printed for every
// predictor (MultiMCW, Lag, MultiMMC, LZ78Y), on every sample file and
// sequence, to predictionEstimate and compares P_global, P_global', P_local
// and the estimate with the tool's.
func TestPredictionEstimate(t *testing.T) {
	n := 0
	for _, c := range ptLoad(t) {
		for _, seq := range c.sequences() {
			for _, test := range []string{"MultiMCW", "Lag", "MultiMMC", "LZ78Y"} {
				pre := seq.label + " " + test + " Prediction Estimate: "
				if _, ok := c.txt[pre+"C"]; !ok {
					continue
				}
				cc, nn, r := c.int(t, pre+"C"), c.int(t, pre+"N"), c.int(t, pre+"r")
				got := newPredictionResult(test, "", cc, nn, r, seq.k)
				ptCheckPrediction(t, c, seq.label, test, got)
				n++
			}
		}
	}
	assert.GreaterOrEqual(t, n, 68, "predictor results checked (every file, both sequences)")
	t.Logf("%d predictor results agree with the tool", n)
}

// TestPredictionEstimateEdges checks the cases the sample files do not
// reach: no correct prediction (P_global' = 1 - 0.01^(1/N)) and every
// prediction correct (P_global' = 1, estimate 0).
func TestPredictionEstimateEdges(t *testing.T) {
	_, pgp, pl, h := predictionEstimate(0, 1000, 1, 2)
	assert.Equal(t, 1-math.Pow(0.01, 1.0/1000), pgp, "c = 0: P_global'")
	assert.Equal(t, 0.0, pl, "c = 0, k = 2: P_local")
	assert.Equal(t, 1.0, h, "c = 0, k = 2: estimate")
	_, pgp, _, h = predictionEstimate(1000, 1000, 1001, 2)
	assert.Equal(t, 1.0, pgp, "all correct: P_global'")
	assert.Equal(t, 0.0, h, "all correct: estimate")
	// A long run forces the local bound above the global one.
	_, pgp, pl, h = predictionEstimate(500, 1000, 200, 2)
	assert.Greater(t, pl, pgp, "long run: P_local not above P_global'")
	assert.Equal(t, -math.Log2(pl), h, "long run: estimate")
	// At P_local the probability of no run of r is 0.99.
	assert.InDelta(t, math.Log(0.99), runFunction(pl, 200, 1000), 1e-12, "runFunction(P_local), want ln(0.99)")
}

func TestPredictionEstimatePanics(t *testing.T) {
	assert.Panics(t, func() { predictionEstimate(1, 10, 1, 1) }, "no panic for k = 1")
}
