package assess

import (
	"encoding/json"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// conditioningRun is one ea_conditioning run of
// $HSMENTROPY_TESTDATA/sp800-90b-restart/conditioning.json.
type conditioningRun struct {
	Row      string  `json:"row"`
	Mode     string  `json:"mode"`
	NIn      int     `json:"n_in"`
	NOut     int     `json:"n_out"`
	NW       int     `json:"nw"`
	HIn      string  `json:"h_in"`
	HPrime   *string `json:"h_prime"`
	Exit     int     `json:"exit"`
	Stdout   string  `json:"stdout"`
	HOut     string  `json:"h_out"` // the tool's long double, 22 digits
	ToolJSON struct {
		Type      string           `json:"type"`
		TestCases []map[string]any `json:"testCases"`
	} `json:"tool_json"`
}

func loadConditioningRuns(t *testing.T) []conditioningRun {
	t.Helper()
	js, err := os.ReadFile(filepath.Join(restartTestdata(t), "conditioning.json"))
	require.NoError(t, err)
	var runs []conditioningRun
	require.NoError(t, json.Unmarshal(js, &runs))
	require.NotEmpty(t, runs)
	return runs
}

var (
	outputEntropyRe = regexp.MustCompile(`Output_Entropy\(\*\) = ([0-9.]+)`)
	epsilonRe       = regexp.MustCompile(`Close to n_out \(epsilon = 2\^\(-([0-9.]+)\)\)`)
)

// TestConditioningMatchesTool checks every row of the reference table:
// h_out to 1e-12 relative against the tool's 22-digit value and its JSON,
// Output_Entropy against its text, ε where it printed one, and nw.
func TestConditioningMatchesTool(t *testing.T) {
	for _, run := range loadConditioningRuns(t) {
		t.Run(run.Row+"/"+run.Mode, func(t *testing.T) {
			require.Zero(t, run.Exit)
			p := ConditioningParams{Vetted: run.Mode == "vetted", NIn: run.NIn, NOut: run.NOut, NW: run.NW}
			var err error
			p.HIn, err = strconv.ParseFloat(run.HIn, 64)
			require.NoError(t, err)
			if run.HPrime != nil {
				p.HPrime, err = strconv.ParseFloat(*run.HPrime, 64)
				require.NoError(t, err)
			}
			r, err := Conditioning(p)
			require.NoError(t, err)

			assertRel(t, "h_out", r.HOut, decimal(t, run.HOut), 1e-12)
			tc := run.ToolJSON.TestCases[0]
			assertRel(t, "JSON h_out", r.HOut, tc["h_out"].(float64), 1e-12)
			assert.Equal(t, tc["nw"], float64(r.NW), "nw")
			m := outputEntropyRe.FindStringSubmatch(run.Stdout)
			require.NotNil(t, m)
			assertRel(t, "Output_Entropy", r.OutputEntropy, decimal(t, m[1]), 1e-12)
			if m := epsilonRe.FindStringSubmatch(run.Stdout); m != nil {
				assertRel(t, "epsilon", r.Epsilon, decimal(t, m[1]), 1e-12)
			}
		})
	}
}

func decimal(t *testing.T, s string) float64 {
	t.Helper()
	f, _, err := big.ParseFloat(s, 10, 128, big.ToNearestEven)
	require.NoError(t, err)
	v, _ := f.Float64()
	return v
}

func assertRel(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	assert.LessOrEqual(t, math.Abs(got-want), tol*math.Abs(want), "%s = %.17g, the tool's %.17g", what, got, want)
}

// TestConditioningFormulas checks the two regimes of Output_Entropy by
// hand: when n_in greatly exceeds n, ψ ≈ 2^-n + 2^-h_in; when h_in = n_in =
// n, ω = (1 + sqrt(2n ln 2))·2^-n dominates.
func TestConditioningFormulas(t *testing.T) {
	r, err := Conditioning(ConditioningParams{Vetted: true, NIn: 2048, NOut: 128, NW: 128, HIn: 100})
	require.NoError(t, err)
	want := 100 - math.Log2(1+math.Pow(2, 100-128)) // -log2(2^-128 + 2^-100)
	assertRel(t, "h_out", r.HOut, want, 1e-15)

	r, err = Conditioning(ConditioningParams{Vetted: true, NIn: 256, NOut: 256, NW: 256, HIn: 256})
	require.NoError(t, err)
	want = 256 - math.Log2(1+math.Sqrt(2*256*math.Ln2))
	assertRel(t, "h_out", r.HOut, want, 1e-14)
	assert.False(t, r.FullEntropy())

	// Far more input entropy than output: full entropy.
	r, err = Conditioning(ConditioningParams{Vetted: true, NIn: 1024, NOut: 256, NW: 256, HIn: 512})
	require.NoError(t, err)
	assert.Equal(t, 256.0, r.HOut)
	assert.True(t, r.FullEntropy())
	// Non-vetted: never full entropy, at most 0.999·n_out.
	r, err = Conditioning(ConditioningParams{NIn: 1024, NOut: 256, NW: 256, HIn: 512, HPrime: 1})
	require.NoError(t, err)
	assert.Equal(t, 0.999*256, r.HOut)
	assert.False(t, r.FullEntropy())
}

func TestConditioningRejects(t *testing.T) {
	for _, p := range []ConditioningParams{
		{Vetted: true, NIn: 0, NOut: 1, NW: 1, HIn: 1},
		{Vetted: true, NIn: 8, NOut: 8, NW: 8, HIn: 0},
		{Vetted: true, NIn: 8, NOut: 8, NW: 8, HIn: 9},
		{Vetted: true, NIn: 8, NOut: 8, NW: 8, HIn: math.NaN()},
		{NIn: 8, NOut: 8, NW: 8, HIn: 4},              // h' missing
		{NIn: 8, NOut: 8, NW: 8, HIn: 4, HPrime: 1.5}, // h' above 1
	} {
		_, err := Conditioning(p)
		assert.Error(t, err, "%+v", p)
	}
}

// TestBigMath checks ln 2, 2^x and log2 against float64 and each other at
// high precision.
func TestBigMath(t *testing.T) {
	l, _ := ln2(200).Float64()
	assert.Equal(t, math.Ln2, l)
	for _, x := range []float64{-100.25, -0.5, 0, 0.3, 7.75} {
		e := exp2(big.NewFloat(x), 300)
		got, _ := e.Float64()
		assertRel(t, "exp2", got, math.Exp2(x), 1e-15)
		back, _ := log2(e, 300).Float64()
		assert.InDelta(t, x, back, 1e-15, "log2(exp2(%v))", x)
	}
}
