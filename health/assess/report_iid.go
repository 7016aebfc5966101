package assess

import (
	"encoding/json"
	"fmt"
	"io"
)

// IIDReport is the JSON the tool's ea_iid writes with -o: the run header
// and one test case, with the tool's field names, plus a few fields of ours
// (tool, referenceToolVersion).
type IIDReport struct {
	IID                  bool        `json:"IID"`
	Commandline          string      `json:"commandline"`
	DateTimeStamp        string      `json:"dateTimeStamp"`
	ErrorLevel           int         `json:"errorLevel"`
	Filename             string      `json:"filename"`
	ReferenceToolVersion string      `json:"referenceToolVersion"`
	SHA256               string      `json:"sha256"`
	TestCases            []IIDResult `json:"testCases"`
	Tool                 string      `json:"tool"`
	ToolVersion          string      `json:"toolVersion"`
	Type                 string      `json:"type"`
}

// Report builds the tool's JSON report of r.
func (r *IIDResult) Report(info RunInfo) IIDReport {
	return IIDReport{
		IID:                  true,
		Commandline:          info.Commandline,
		DateTimeStamp:        info.DateTimeStamp(),
		Filename:             info.Filename,
		ReferenceToolVersion: ReferenceToolVersion,
		SHA256:               info.SHA256,
		TestCases:            []IIDResult{*r},
		Tool:                 ToolName,
		ToolVersion:          info.ToolVersion,
	}
}

// WriteTable prints the IID verdicts and the estimate of r, computed on d.
// When a test failed it names the failure instead of an estimate, and the
// caller says what to run instead.
func (r *IIDResult) WriteTable(w io.Writer, d *Data) error {
	verdict := func(ok bool) string {
		if ok {
			return "passed"
		}
		return "FAILED"
	}
	fmt.Fprintf(w, "IID track (SP 800-90B Section 5), %d samples of %d bits, %d distinct values\n\n", len(d.Symbols), d.Bits, d.K)
	fmt.Fprintf(w, "Permutation tests (5.1)          %s\n", verdict(r.PassedIIDPermutationTests))
	fmt.Fprintf(w, "Chi-square tests (5.2.1-5.2.4)   %s\n", verdict(r.PassedChiSquareTests))
	fmt.Fprintf(w, "LRS test (5.2.5)                 %s\n\n", verdict(r.PassedLongestRepeatedSubstringTest))
	fmt.Fprintf(w, "Most Common Value (6.3.1): H_original %.6f", r.HOriginal)
	if r.Bitstring != nil {
		fmt.Fprintf(w, ", H_bitstring %.6f", r.HBitstring)
	}
	fmt.Fprintln(w)
	if !r.Passed() {
		_, err := fmt.Fprintf(w, "The samples failed an IID test: no entropy may be claimed under the IID assumption;\n")
		return err
	}
	_, err := fmt.Fprintf(w, "Assessed min-entropy: %.6f bits per %d-bit sample\n", r.HAssessed, d.Bits)
	return err
}

// WriteJSON writes a report (NonIIDReport, IIDReport, RestartReport,
// ConditioningReport) indented as the tool writes its -o file.
func WriteJSON(w io.Writer, report any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "   ")
	return enc.Encode(report)
}
