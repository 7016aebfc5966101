package assess

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// restartSeed makes the IID permutation tests reproducible in tests.
var restartSeed = &[32]byte{'r', 'e', 's', 't', 'a', 'r', 't'}

// TestRestartMatchesTool runs the restart tests on every reference set with
// the tool's H_I and compares with the tool's JSON: the sanity check's
// outcome, X_cutoff and X_max; H_r and H_c of every estimator and overall
// to 1e-9 relative; the IID verdicts; and the report's shape.
//
// Under the race detector the IID sets' permutation tests run 1 shuffle
// instead of up to 10,000 (the full runs take minutes there), and their
// verdict, which then means nothing, is not compared; everything else is.
func TestRestartMatchesTool(t *testing.T) {
	dir := restartTestdata(t)
	for _, name := range restartSets {
		t.Run(name, func(t *testing.T) {
			c := loadRestartCase(t, dir, name)
			d := c.data(t)
			opts := RestartOptions{IID: c.iid, HInitial: c.hI, HInitialGiven: true, Seed: restartSeed}
			if raceEnabled {
				opts.Shuffles = 1
			}
			r, err := Restart(t.Context(), d, opts)
			require.NoError(t, err)
			assert.Equal(t, c.xCutoff, r.XCutoff, "X_cutoff")
			assert.Equal(t, c.xMax, r.XMax, "X_max")
			compareRestartReport(t, c, r.Report(RunInfo{}), !raceEnabled)
		})
	}
}

// compareRestartReport compares our report with the tool's JSON, the
// permutation tests' verdict only if withPermutation.
func compareRestartReport(t *testing.T, c restartCase, rep RestartReport, withPermutation bool) {
	t.Helper()
	assert.Equal(t, c.tool.IID, rep.IID, "IID")
	assert.Equal(t, "Restart", rep.Type)
	assert.Equal(t, c.tool.ErrorLevel, rep.ErrorLevel, "errorLevel")
	assert.Equal(t, c.tool.ErrorMessage, rep.ErrorMessage, "errorMessage")
	require.Len(t, rep.TestCases, len(c.tool.TestCases), "test cases")
	for i, want := range c.tool.TestCases {
		got := rep.TestCases[i]
		desc := want["testCaseDesc"]
		require.Equal(t, desc, got.TestCaseDesc)
		for key, ours := range map[string]*float64{"h_r": got.HR, "h_c": got.HC, "h_i": got.HI, "dataWordSize": got.DataWordSize} {
			theirs, ok := want[key].(float64)
			if !ok {
				assert.Nil(t, ours, "%s %s: the tool has none", desc, key)
				continue
			}
			if assert.NotNil(t, ours, "%s %s", desc, key) {
				checkClose(t, desc.(string)+" "+key, *ours, theirs)
			}
		}
		for key, ours := range map[string]*bool{
			"passedChiSquareTests":               got.PassedChiSquareTests,
			"passedIidPermutationTests":          got.PassedIIDPermutationTests,
			"passedLongestRepeatedSubstringTest": got.PassedLongestRepeatedSubstringTest,
		} {
			theirs, ok := want[key].(bool)
			if key == "passedIidPermutationTests" && ok && !withPermutation {
				assert.NotNil(t, ours, "%s %s", desc, key)
				continue
			}
			if !ok {
				assert.Nil(t, ours, "%s %s: the tool has none", desc, key)
				continue
			}
			if assert.NotNil(t, ours, "%s %s", desc, key) {
				assert.Equal(t, theirs, *ours, "%s %s", desc, key)
			}
		}
		if counts, ok := want["permutationTestResults"].([]any); ok {
			assert.Len(t, got.PermutationTestResults, len(counts), "permutation count objects")
		}
	}
}

// TestRestartEstimatesInitial checks that without a given H_I, Restart
// estimates it from the file read sequentially as the tool's ea_iid -i or
// ea_non_iid -i did for the reference H_I run, and then reaches the tool's
// verdicts (the sanity check and the validation, which the IID tests do not
// change: 1 shuffle suffices here).
func TestRestartEstimatesInitial(t *testing.T) {
	dir := restartTestdata(t)
	for _, name := range restartSets {
		t.Run(name, func(t *testing.T) {
			c := loadRestartCase(t, dir, name)
			d := c.data(t)
			r, err := Restart(t.Context(), d, RestartOptions{IID: c.iid, Seed: restartSeed, Shuffles: 1})
			require.NoError(t, err)
			assert.True(t, r.HInitialEstimated)
			checkClose(t, "H_I", r.HInitial, c.hI)
			assert.Equal(t, c.xCutoff, r.XCutoff, "X_cutoff")
			assert.Equal(t, c.tool.ErrorLevel == 0, r.Passed(), "verdict")
		})
	}
}

// TestRestartValidationFails builds restart data whose rows alternate 0101…
// from a random phase, so that each column is random but each row is
// predictable: the sanity check passes (every count is near 500) while the
// row estimates collapse, so the validation must fail as the tool's does
// (errorLevel -1, the estimators' test cases but no Overall).
func TestRestartValidationFails(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	raw := make([]byte, restartSamples)
	for r := range RestartRows {
		phase := rng.IntN(2)
		for c := range RestartColumns {
			raw[r*RestartColumns+c] = byte((c + phase) % 2)
		}
	}
	d, err := Prepare(raw, 1)
	require.NoError(t, err)
	r, err := Restart(t.Context(), d, RestartOptions{HInitial: 0.9, HInitialGiven: true})
	require.NoError(t, err)
	require.True(t, r.SanityPassed, "X_max %d, X_cutoff %d", r.XMax, r.XCutoff)
	assert.False(t, r.ValidationPassed)
	assert.Less(t, r.HRows, 0.45)
	rep := r.Report(RunInfo{})
	assert.Equal(t, -1, rep.ErrorLevel)
	assert.Equal(t, restartValidationMessage, rep.ErrorMessage)
	require.NotEmpty(t, rep.TestCases)
	assert.NotEqual(t, overallDesc, rep.TestCases[len(rep.TestCases)-1].TestCaseDesc)
}

// TestRestartRejects checks the inputs the tool refuses.
func TestRestartRejects(t *testing.T) {
	small, err := Prepare([]byte{0, 1, 0, 1}, 1)
	require.NoError(t, err)
	_, err = Restart(t.Context(), small, RestartOptions{HInitial: 0.5, HInitialGiven: true})
	assert.ErrorIs(t, err, ErrRestartSize)

	raw := make([]byte, restartSamples)
	for i := range raw {
		raw[i] = byte(i % 4)
	}
	d, err := Prepare(raw, 2)
	require.NoError(t, err)
	_, err = Restart(t.Context(), d, RestartOptions{HInitial: 2.5, HInitialGiven: true})
	assert.Error(t, err, "H_I above bits")
	_, err = Restart(t.Context(), d, RestartOptions{HInitial: -1, HInitialGiven: true})
	assert.Error(t, err, "negative H_I")
}

func TestTranspose(t *testing.T) {
	rows := make([]byte, restartSamples)
	for i := range rows {
		rows[i] = byte(i*7 + i/1000)
	}
	cols := transpose(rows)
	for _, rc := range [][2]int{{0, 0}, {0, 999}, {999, 0}, {123, 456}, {999, 999}, {7, 8}} {
		assert.Equal(t, rows[rc[0]*1000+rc[1]], cols[rc[1]*1000+rc[0]], "row %d column %d", rc[0], rc[1])
	}
	assert.Equal(t, rows, transpose(cols))
}
