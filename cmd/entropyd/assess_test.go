package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hsmentropy/hsmentropy/health/assess"
	"github.com/hsmentropy/hsmentropy/internal/nistdata"
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
	if err := json.Unmarshal(js, &rep); err != nil {
		t.Fatalf("%v in %s", err, js)
	}
	last := rep.TestCases[len(rep.TestCases)-1]
	if last["testCaseDesc"] != "Overall" {
		t.Fatalf("last test case is %v", last["testCaseDesc"])
	}
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
			if err != nil {
				t.Fatal(err)
			}
			tool, err := os.ReadFile(filepath.Join(dir, name+".noniid.json"))
			if err != nil {
				t.Fatal(err)
			}
			got, want := overall(t, []byte(out)), overall(t, tool)
			if math.Abs(got-want) > 1e-9*want {
				t.Errorf("hAssessed = %.17g, the tool's %.17g", got, want)
			}
			// Every test case, field by field, as the tool wrote it.
			var ours, theirs struct {
				IID       bool             `json:"IID"`
				SHA256    string           `json:"sha256"`
				TestCases []map[string]any `json:"testCases"`
			}
			if err := json.Unmarshal([]byte(out), &ours); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(tool, &theirs); err != nil {
				t.Fatal(err)
			}
			if ours.IID != theirs.IID || ours.SHA256 != theirs.SHA256 || len(ours.TestCases) != len(theirs.TestCases) {
				t.Fatalf("IID %v, sha256 %s, %d test cases; the tool's %v, %s, %d",
					ours.IID, ours.SHA256, len(ours.TestCases), theirs.IID, theirs.SHA256, len(theirs.TestCases))
			}
			for i, tc := range theirs.TestCases {
				for k, v := range tc {
					g, ok := ours.TestCases[i][k]
					switch want, isNum := v.(float64); {
					case !ok:
						t.Errorf("test case %d (%v) lacks %q", i, tc["testCaseDesc"], k)
					case isNum:
						if got, _ := g.(float64); math.Abs(got-want) > 1e-9*math.Abs(want) {
							t.Errorf("test case %d (%v) %s = %.17g, the tool's %.17g", i, tc["testCaseDesc"], k, got, want)
						}
					case g != v:
						t.Errorf("test case %d %s = %v, the tool's %v", i, k, g, v)
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
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runCmd(t, raw, "assess", "-", "--bits", "4")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Most Common Value", "6.3.1", "LZ78Y Test", "Assessed min-entropy: 3.215488"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "warning") || !strings.Contains(errOut, "10000 samples") {
		t.Errorf("stderr lacks the short-data warning: %q", errOut)
	}
}

func TestAssessErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.bin")
	wide := filepath.Join(dir, "wide.bin")
	one := filepath.Join(dir, "one.bin")
	for name, data := range map[string][]byte{empty: nil, wide: {0, 0xff, 3}, one: {5, 5, 5}} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
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
		switch {
		case err == nil:
			t.Errorf("%q: no error", tc.args)
		case tc.usage != errors.Is(err, errUsage):
			t.Errorf("%q: usage error %v: %v", tc.args, !tc.usage, err)
		case tc.is != nil && !errors.Is(err, tc.is):
			t.Errorf("%q: %v, want %v", tc.args, err, tc.is)
		case !strings.Contains(err.Error(), tc.text):
			t.Errorf("%q: %q lacks %q", tc.args, err, tc.text)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	out, _, err := runCmd(t, nil, "help")
	if err != nil || !strings.Contains(out, "assess") || !strings.Contains(out, "version") {
		t.Errorf("help: %v\n%s", err, out)
	}
	out, _, err = runCmd(t, nil, "version")
	if err != nil || !strings.HasPrefix(out, "entropyd ") {
		t.Errorf("version: %v %q", err, out)
	}
	if _, errOut, err := runCmd(t, nil, "assess", "-h"); err == nil || !strings.Contains(errOut, "--bits") && !strings.Contains(errOut, "-bits") {
		t.Errorf("assess -h: %v\n%s", err, errOut)
	}
}

// TestAssessIID runs the IID track with few shuffles on a short file: it
// must report the tool's Most Common Value estimates (which do not depend on
// the shuffles), found in the non-IID JSON's "Most Common Value" entry.
func TestAssessIID(t *testing.T) {
	dir := sp90bDir(t)
	out, _, err := runCmd(t, nil, "assess", "--iid", "--json", "--shuffles", "20", filepath.Join(dir, "rand8_short.bin"))
	if err != nil {
		t.Fatal(err)
	}
	var rep, tool struct {
		IID       bool             `json:"IID"`
		TestCases []map[string]any `json:"testCases"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(filepath.Join(dir, "rand8_short.noniid.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &tool); err != nil {
		t.Fatal(err)
	}
	if !rep.IID {
		t.Error("IID is false")
	}
	for _, k := range []string{"hOriginal", "hBitstring"} {
		got, want := rep.TestCases[0][k].(float64), tool.TestCases[0][k].(float64)
		if math.Abs(got-want) > 1e-9*want {
			t.Errorf("%s = %.17g, the tool's %.17g", k, got, want)
		}
	}
}
