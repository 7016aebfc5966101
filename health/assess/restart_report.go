package assess

import (
	"fmt"
	"io"
)

// RestartReport is the JSON the tool's ea_restart writes with -o (type
// "Restart"), with the tool's field names, plus fields of ours: tool,
// referenceToolVersion, and the sanity check's X_cutoff and X_max (the
// tool prints them but leaves them out of its JSON).
type RestartReport struct {
	IID                  bool              `json:"IID"`
	Commandline          string            `json:"commandline"`
	DateTimeStamp        string            `json:"dateTimeStamp"`
	ErrorLevel           int               `json:"errorLevel"`
	ErrorMessage         string            `json:"errorMessage,omitempty"`
	Filename             string            `json:"filename"`
	ReferenceToolVersion string            `json:"referenceToolVersion"`
	SHA256               string            `json:"sha256"`
	TestCases            []RestartTestCase `json:"testCases"`
	Tool                 string            `json:"tool"`
	ToolVersion          string            `json:"toolVersion"`
	Type                 string            `json:"type"`
	XCutoff              int               `json:"xCutoff"`
	XMax                 int               `json:"xMax"`
}

// RestartTestCase is one entry of the report's testCases: one estimator on
// the rows (h_r) and columns (h_c), or the "Overall" result with h_i. On
// the IID track there is only the "Overall" entry, which carries the IID
// tests' verdicts (each true only if it passed on both rows and columns)
// and the permutation counts, the rows' three objects then the columns'.
// Its mean and median are the samples' (the tool leaves both 0 there).
type RestartTestCase struct {
	DataWordSize *float64 `json:"dataWordSize,omitempty"`
	HC           *float64 `json:"h_c,omitempty"`
	HI           *float64 `json:"h_i,omitempty"`
	HR           *float64 `json:"h_r,omitempty"`

	Mean                               *float64             `json:"mean,omitempty"`
	Median                             *float64             `json:"median,omitempty"`
	PassedChiSquareTests               *bool                `json:"passedChiSquareTests,omitempty"`
	PassedIIDPermutationTests          *bool                `json:"passedIidPermutationTests,omitempty"`
	PassedLongestRepeatedSubstringTest *bool                `json:"passedLongestRepeatedSubstringTest,omitempty"`
	PermutationTestResults             []map[string]float64 `json:"permutationTestResults,omitempty"`

	TestCaseDesc string `json:"testCaseDesc"`
}

// The tool's error messages, in errorMessage.
const (
	restartSanityMessage     = "Restart Sanity Check Failed."
	restartValidationMessage = "min(H_r, H_c) < H_I/2, Validation Testing Failed."
)

// Report builds the tool's JSON report of r. As in the tool, a failed
// sanity check gives errorLevel -1 and no test cases; a failed validation
// gives errorLevel -1 and, on the non-IID track, the estimators' test
// cases without "Overall".
func (r *RestartResult) Report(info RunInfo) RestartReport {
	rep := RestartReport{
		IID:                  r.IID,
		Commandline:          info.Commandline,
		DateTimeStamp:        info.DateTimeStamp(),
		Filename:             info.Filename,
		ReferenceToolVersion: ReferenceToolVersion,
		SHA256:               info.SHA256,
		Tool:                 ToolName,
		ToolVersion:          info.ToolVersion,
		Type:                 "Restart",
		XCutoff:              r.XCutoff,
		XMax:                 r.XMax,
	}
	if !r.SanityPassed {
		rep.ErrorLevel, rep.ErrorMessage = -1, restartSanityMessage
		return rep
	}
	if !r.IID {
		rows, cols := r.Rows.ten(), r.Columns.ten()
		for i := range rows {
			if rows[i] == nil && cols[i] == nil {
				continue
			}
			size := float64(r.Bits)
			if i >= 1 && i <= 3 { // Collision, Markov, Compression: bit strings only
				size = 1
			}
			rep.TestCases = append(rep.TestCases, RestartTestCase{
				TestCaseDesc: estimatorNames[i],
				DataWordSize: &size,
				HR:           ranValue(rows[i]),
				HC:           ranValue(cols[i]),
			})
		}
	}
	if !r.ValidationPassed {
		rep.ErrorLevel, rep.ErrorMessage = -1, restartValidationMessage
		return rep
	}
	overall := RestartTestCase{TestCaseDesc: overallDesc, HR: ptr(r.HRows), HC: ptr(r.HColumns), HI: ptr(r.HInitial)}
	if r.IID {
		rt, ct := r.RowTests, r.ColumnTests
		overall.Mean, overall.Median = ptr(r.Mean), ptr(r.Median)
		overall.PassedChiSquareTests = boolPtr(rt.ChiSquare.Passed && ct.ChiSquare.Passed)
		overall.PassedIIDPermutationTests = boolPtr(rt.Permutation.Passed && ct.Permutation.Passed)
		overall.PassedLongestRepeatedSubstringTest = boolPtr(rt.LRS.Passed && ct.LRS.Passed)
		overall.PermutationTestResults = append(rt.Permutation.toolCounts(), ct.Permutation.toolCounts()...)
	}
	rep.TestCases = append(rep.TestCases, overall)
	return rep
}

func boolPtr(b bool) *bool { return &b }

// WriteText prints the result as the tool's text output does (ea_restart
// -v), with the row and column estimates of each estimator, and X_r and X_c
// besides the tool's X_max.
func (r *RestartResult) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	track := "non-IID"
	if r.IID {
		track = "IID"
	}
	ew.printf("Restart tests (SP 800-90B Section 3.1.4), %s track, %d restarts of %d samples of %d bits, %d distinct values\n",
		track, RestartRows, RestartColumns, r.Bits, r.K)
	how := "given"
	if r.HInitialEstimated {
		how = "estimated from the data read sequentially"
	}
	ew.printf("H_I: %.6f (%s)\n", r.HInitial, how)
	ew.printf("ALPHA: %.17g, X_cutoff: %d\n", RestartAlpha, r.XCutoff)
	ew.printf("X_max: %d (X_r %d, X_c %d)\n", r.XMax, r.XRows, r.XColumns)
	if !r.SanityPassed {
		ew.printf("\n*** Restart Sanity Check Failed ***\n")
		return ew.err
	}
	ew.printf("\nRestart Sanity Check Passed...\n\n")
	rows, cols := r.Rows.ten(), r.Columns.ten()
	for i := range rows {
		if rows[i] == nil && cols[i] == nil {
			continue
		}
		ew.printf("%-50s rows %s  columns %s\n", estimatorNames[i], tableCell(rows[i]), tableCell(cols[i]))
	}
	if r.IID {
		for _, side := range []struct {
			name string
			t    *RestartIIDTests
		}{{"rows", r.RowTests}, {"columns", r.ColumnTests}} {
			ew.printf("IID tests on the %-8s chi-square %s, LRS %s, permutation %s\n", side.name+":",
				verdict(side.t.ChiSquare.Passed), verdict(side.t.LRS.Passed), verdict(side.t.Permutation.Passed))
		}
	}
	ew.printf("\nH_r: %f\nH_c: %f\nH_I: %f\n\n", r.HRows, r.HColumns, r.HInitial)
	if !r.ValidationPassed {
		ew.printf("*** min(H_r, H_c) < H_I/2, Validation Testing Failed ***\n")
		return ew.err
	}
	ew.printf("Validation Test Passed...\n\nmin(H_r, H_c, H_I): %f\n", r.HAssessed)
	if r.IID && !(r.RowTests.Passed() && r.ColumnTests.Passed()) {
		ew.printf("An IID test failed on the rows or columns: the IID claim does not hold across restarts;\nassess the restart data on the non-IID track.\n")
	}
	return ew.err
}

func verdict(ok bool) string {
	if ok {
		return "passed"
	}
	return "FAILED"
}

// String returns a one-line summary.
func (r *RestartResult) String() string {
	switch {
	case !r.SanityPassed:
		return fmt.Sprintf("restart sanity check failed: X_max %d > X_cutoff %d", r.XMax, r.XCutoff)
	case !r.ValidationPassed:
		return fmt.Sprintf("restart validation failed: min(H_r %g, H_c %g) < H_I/2 = %g", r.HRows, r.HColumns, r.HInitial/2)
	}
	return fmt.Sprintf("restart tests passed: min(H_r, H_c, H_I) = %g", r.HAssessed)
}
