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
	if ptErr != nil {
		t.Fatal(ptErr)
	}
	if len(ptCases) == 0 {
		t.Fatalf("no *.noniid.txt files in %s", dir)
	}
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
	if !ok {
		t.Fatalf("%s: tool output has no %q", c.name, key)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		t.Fatalf("%s: %q: %v", c.name, key, err)
	}
	return f
}

func (c *ptCase) int(t *testing.T, key string) int {
	t.Helper()
	v, ok := c.txt[key]
	if !ok {
		t.Fatalf("%s: tool output has no %q", c.name, key)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s: %q: %v", c.name, key, err)
	}
	return n
}

// ptTol is the agreement asked of every estimate: a relative 1e-9.
const ptTol = 1e-9

func ptClose(got, want float64) bool {
	if got == want {
		return true
	}
	return math.Abs(got-want) <= ptTol*math.Max(math.Abs(got), math.Abs(want))
}

func ptCheck(t *testing.T, what string, got, want float64) {
	t.Helper()
	if !ptClose(got, want) {
		t.Errorf("%s = %.17g, tool %.17g (rel %.3g)", what, got, want, math.Abs(got-want)/math.Abs(want))
	}
}

// ptCheckPrediction compares a prediction result with the tool's verbose
// output for "<label> <test> Prediction Estimate".
func ptCheckPrediction(t *testing.T, c *ptCase, label, test string, got PredictionResult) {
	t.Helper()
	pre := label + " " + test + " Prediction Estimate: "
	if w := c.int(t, pre+"C"); got.C != w {
		t.Errorf("%sC = %d, tool %d", pre, got.C, w)
	}
	if w := c.int(t, pre+"N"); got.N != w {
		t.Errorf("%sN = %d, tool %d", pre, got.N, w)
	}
	if w := c.int(t, pre+"r"); got.R != w {
		t.Errorf("%sr = %d, tool %d", pre, got.R, w)
	}
	ptCheck(t, pre+"P_global", got.PGlobal, c.float(t, pre+"P_global"))
	ptCheck(t, pre+"P_global'", got.PGlobalPrime, c.float(t, pre+"P_global'"))
	if _, ok := c.txt[pre+"P_local"]; ok {
		ptCheck(t, pre+"P_local", got.PLocal, c.float(t, pre+"P_local"))
	} else if got.PLocal != 0 {
		t.Errorf("%sP_local = %g, tool: can't change the result", pre, got.PLocal)
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
	if n < 68 {
		t.Errorf("checked %d predictor results, want at least 68 (every file, both sequences)", n)
	}
	t.Logf("%d predictor results agree with the tool", n)
}

// TestPredictionEstimateEdges checks the cases the sample files do not
// reach: no correct prediction (P_global' = 1 - 0.01^(1/N)) and every
// prediction correct (P_global' = 1, estimate 0).
func TestPredictionEstimateEdges(t *testing.T) {
	_, pgp, pl, h := predictionEstimate(0, 1000, 1, 2)
	if want := 1 - math.Pow(0.01, 1.0/1000); pgp != want {
		t.Errorf("c = 0: P_global' = %g, want %g", pgp, want)
	}
	if pl != 0 || h != 1 {
		t.Errorf("c = 0, k = 2: P_local = %g, estimate %g; want 0 and 1 bit", pl, h)
	}
	_, pgp, _, h = predictionEstimate(1000, 1000, 1001, 2)
	if pgp != 1 || h != 0 {
		t.Errorf("all correct: P_global' = %g, estimate %g; want 1 and 0", pgp, h)
	}
	// A long run forces the local bound above the global one.
	_, pgp, pl, h = predictionEstimate(500, 1000, 200, 2)
	if !(pl > pgp) || h != -math.Log2(pl) {
		t.Errorf("long run: P_global' = %g, P_local = %g, estimate %g", pgp, pl, h)
	}
	// At P_local the probability of no run of r is 0.99.
	if v := runFunction(pl, 200, 1000); math.Abs(v-math.Log(0.99)) > 1e-12 {
		t.Errorf("runFunction(P_local) = %g, want ln(0.99)", v)
	}
}

func TestPredictionEstimatePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for k = 1")
		}
	}()
	predictionEstimate(1, 10, 1, 1)
}
