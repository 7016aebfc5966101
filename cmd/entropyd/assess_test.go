package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hsmentropy/hsmentropy/health/assess"
	"github.com/hsmentropy/hsmentropy/internal/nistdata"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sp90bDir returns the sample files of NIST's SP800-90B_EntropyAssessment
// v1.1.7 with the JSON its ea_non_iid printed for each (internal/nistdata);
// it skips (or, with HSMENTROPY_REQUIRE_TESTDATA=1, fails) when there is no
// reference data.
func sp90bDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(nistdata.Dir(t), "sp800-90b")
}

// runCmd runs entropyd with args and stdin, returning stdout and stderr.
func runCmd(t *testing.T, stdin []byte, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), args, bytes.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

// overall returns the hAssessed of the "Overall" test case of a report.
func overall(t *testing.T, js []byte) float64 {
	t.Helper()
	var rep struct {
		TestCases []map[string]any `json:"testCases"`
	}
	require.NoError(t, json.Unmarshal(js, &rep), "in %s", js)
	require.NotEmpty(t, rep.TestCases, "in %s", js)
	last := rep.TestCases[len(rep.TestCases)-1]
	require.Equal(t, "Overall", last["testCaseDesc"], "the last test case")
	return last["hAssessed"].(float64)
}

// TestAssessJSONMatchesTool runs `entropyd assess --json` on NIST's files
// and compares hAssessed with the tool's.
func TestAssessJSONMatchesTool(t *testing.T) {
	dir := sp90bDir(t)
	for _, name := range []string{"rand1_short", "rand4_short", "rand8_short", "truerand_1bit", "biased-random-bits"} {
		t.Run(name, func(t *testing.T) {
			bin := filepath.Join(dir, name+".bin")
			out, _, err := runCmd(t, nil, "assess", "--json", bin)
			require.NoError(t, err)
			tool, err := os.ReadFile(filepath.Join(dir, name+".noniid.json"))
			require.NoError(t, err)
			got, want := overall(t, []byte(out)), overall(t, tool)
			assert.InEpsilon(t, want, got, 1e-9, "hAssessed, the tool's first")
			// Every test case, field by field, as the tool wrote it.
			var ours, theirs struct {
				IID       bool             `json:"IID"`
				SHA256    string           `json:"sha256"`
				TestCases []map[string]any `json:"testCases"`
			}
			require.NoError(t, json.Unmarshal([]byte(out), &ours))
			require.NoError(t, json.Unmarshal(tool, &theirs))
			require.Equal(t, theirs.IID, ours.IID, "IID")
			require.Equal(t, theirs.SHA256, ours.SHA256, "sha256")
			require.Len(t, ours.TestCases, len(theirs.TestCases), "test cases")
			for i, tc := range theirs.TestCases {
				for k, v := range tc {
					g, ok := ours.TestCases[i][k]
					switch want, isNum := v.(float64); {
					case !ok:
						assert.Fail(t, "a field is missing", "test case %d (%v) lacks %q", i, tc["testCaseDesc"], k)
					case isNum && want == 0:
						got, _ := g.(float64)
						assert.InDelta(t, want, got, 0, "test case %d (%v) %s, the tool's first", i, tc["testCaseDesc"], k)
					case isNum:
						got, _ := g.(float64)
						assert.InEpsilon(t, want, got, 1e-9, "test case %d (%v) %s, the tool's first", i, tc["testCaseDesc"], k)
					default:
						assert.Equal(t, v, g, "test case %d %s, the tool's first", i, k)
					}
				}
			}
		})
	}
}

// TestAssessStdinAndTable reads samples from standard input, with a flag
// after the file name, and prints the table and the short-data warning.
func TestAssessStdinAndTable(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(sp90bDir(t), "rand4_short.bin"))
	require.NoError(t, err)
	out, errOut, err := runCmd(t, raw, "assess", "-", "--bits", "4")
	require.NoError(t, err)
	for _, want := range []string{"Most Common Value", "6.3.1", "LZ78Y Test", "Assessed min-entropy: 3.215488"} {
		assert.Contains(t, out, want)
	}
	assert.Contains(t, errOut, "warning", "stderr lacks the short-data warning")
	assert.Contains(t, errOut, "10000 samples", "stderr lacks the short-data warning")
}

func TestAssessErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.bin")
	wide := filepath.Join(dir, "wide.bin")
	one := filepath.Join(dir, "one.bin")
	for name, data := range map[string][]byte{empty: nil, wide: {0, 0xff, 3}, one: {5, 5, 5}} {
		require.NoError(t, os.WriteFile(name, data, 0o600))
	}
	for _, tc := range []struct {
		args  []string
		usage bool
		is    error
		text  string
	}{
		{[]string{"assess", empty}, false, assess.ErrEmpty, "no samples"},
		{[]string{"assess", "--bits", "4", wide}, false, assess.ErrTooWide, "8 bits wide, 4 given"},
		{[]string{"assess", one}, false, assess.ErrOneSymbol, "1 symbol"},
		{[]string{"assess", filepath.Join(dir, "missing.bin")}, false, os.ErrNotExist, "missing.bin"},
		{[]string{"assess", "--bits", "9", wide}, true, nil, "--bits 9"},
		{[]string{"assess", "--iid", "--non-iid", wide}, true, nil, "exclude"},
		{[]string{"assess", wide, one}, true, nil, "one FILE"},
		{[]string{"assess", "--nope"}, true, nil, "nope"},
		{[]string{"frobnicate"}, true, nil, "unknown command"},
		{nil, true, nil, "no command"},
	} {
		_, _, err := runCmd(t, nil, tc.args...)
		if !assert.Error(t, err, "%q", tc.args) {
			continue
		}
		assert.Equal(t, tc.usage, errors.Is(err, errUsage), "%q: is a usage error: %v", tc.args, err)
		if tc.is != nil {
			assert.ErrorIs(t, err, tc.is, "%q", tc.args)
		}
		assert.ErrorContains(t, err, tc.text, "%q", tc.args)
	}
}

func TestHelpAndVersion(t *testing.T) {
	out, _, err := runCmd(t, nil, "help")
	assert.NoError(t, err, "help")
	assert.Contains(t, out, "assess", "help")
	assert.Contains(t, out, "version", "help")
	out, _, err = runCmd(t, nil, "version")
	assert.NoError(t, err, "version")
	assert.True(t, strings.HasPrefix(out, "entropyd "), "version: %q does not begin with \"entropyd \"", out)
	_, errOut, err := runCmd(t, nil, "assess", "-h")
	assert.Error(t, err, "assess -h")
	assert.Contains(t, errOut, "--bits", "assess -h")
}

// TestAssessIID runs the IID track with few shuffles on a short file: it
// must report the tool's Most Common Value estimates (which do not depend on
// the shuffles), found in the non-IID JSON's "Most Common Value" entry.
func TestAssessIID(t *testing.T) {
	dir := sp90bDir(t)
	out, _, err := runCmd(t, nil, "assess", "--iid", "--json", "--shuffles", "20", filepath.Join(dir, "rand8_short.bin"))
	require.NoError(t, err)
	var rep, tool struct {
		IID       bool             `json:"IID"`
		TestCases []map[string]any `json:"testCases"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	js, err := os.ReadFile(filepath.Join(dir, "rand8_short.noniid.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(js, &tool))
	assert.True(t, rep.IID, "IID is false")
	require.NotEmpty(t, rep.TestCases)
	require.NotEmpty(t, tool.TestCases)
	for _, k := range []string{"hOriginal", "hBitstring"} {
		got, want := rep.TestCases[0][k].(float64), tool.TestCases[0][k].(float64)
		assert.InEpsilon(t, want, got, 1e-9, "%s, the tool's first", k)
	}
}
