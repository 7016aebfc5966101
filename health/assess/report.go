package assess

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// ReferenceToolVersion is the version of NIST's SP800-90B_EntropyAssessment
// whose numbers and JSON field names this package reproduces.
const ReferenceToolVersion = "1.1.7"

// RunInfo describes a run for its report, as the tool's JSON header does.
type RunInfo struct {
	// Filename names the input ("-" for standard input).
	Filename string
	// SHA256 is the hex SHA-256 of the input file.
	SHA256 string
	// Commandline is the command as typed.
	Commandline string
	// Time is when the run started.
	Time time.Time
	// ToolVersion is the version of the program making the report.
	ToolVersion string
}

// NonIIDReport is the JSON the tool's ea_non_iid writes with -o, with the
// tool's field names (in the tool's order: alphabetical), plus a few fields
// of ours (tool, referenceToolVersion, warnings).
type NonIIDReport struct {
	IID                  bool             `json:"IID"`
	Commandline          string           `json:"commandline"`
	DateTimeStamp        string           `json:"dateTimeStamp"`
	ErrorLevel           int              `json:"errorLevel"`
	ErrorMessage         string           `json:"errorMessage,omitempty"`
	Filename             string           `json:"filename"`
	ReferenceToolVersion string           `json:"referenceToolVersion"`
	SHA256               string           `json:"sha256"`
	TestCases            []NonIIDTestCase `json:"testCases"`
	Tool                 string           `json:"tool"`
	ToolVersion          string           `json:"toolVersion"`
	Type                 string           `json:"type"`
	Warnings             []string         `json:"warnings,omitempty"`
}

// NonIIDTestCase is one entry of testCases: one estimator on the samples
// (hOriginal; tTupleRes, lrsRes) and on the bitstring (hBitstring;
// binTTupleRes, binLrsRes), or the "Overall" result. Absent values are
// omitted, as the tool omits them.
type NonIIDTestCase struct {
	BinLrsRes       *float64 `json:"binLrsRes,omitempty"`
	BinTTupleRes    *float64 `json:"binTTupleRes,omitempty"`
	DataWordSize    *float64 `json:"dataWordSize,omitempty"`
	HAssessed       *float64 `json:"hAssessed,omitempty"`
	HBitstring      *float64 `json:"hBitstring,omitempty"`
	HOriginal       *float64 `json:"hOriginal,omitempty"`
	LrsRes          *float64 `json:"lrsRes,omitempty"`
	McvEstimateMode *float64 `json:"mcvEstimateMode,omitempty"`
	McvEstimatePHat *float64 `json:"mcvEstimatePHat,omitempty"`
	McvEstimatePU   *float64 `json:"mcvEstimatePU,omitempty"`
	TTupleRes       *float64 `json:"tTupleRes,omitempty"`
	TestCaseDesc    string   `json:"testCaseDesc"`
}

// overallDesc is the testCaseDesc of the final entry.
const overallDesc = "Overall"

// ToolName names this package's assessments in reports.
const ToolName = "hsmentropy assess"

// toolTimeLayout is the tool's dateTimeStamp format.
const toolTimeLayout = "20060102150405"

// DateTimeStamp returns the run's time as the tool writes it
// (YYYYMMDDhhmmss).
func (i RunInfo) DateTimeStamp() string {
	return i.Time.Format(toolTimeLayout)
}

// Report builds the tool's JSON report of r.
func (r *NonIIDResult) Report(info RunInfo) NonIIDReport {
	rep := NonIIDReport{
		Commandline:          info.Commandline,
		DateTimeStamp:        info.DateTimeStamp(),
		Filename:             info.Filename,
		ReferenceToolVersion: ReferenceToolVersion,
		SHA256:               info.SHA256,
		Tool:                 ToolName,
		ToolVersion:          info.ToolVersion,
	}
	for _, w := range r.Warnings {
		rep.Warnings = append(rep.Warnings, w.Error())
	}
	lit, bin := r.Literal.ten(), r.Bitstring.ten()
	for i, name := range estimatorNames {
		tc := NonIIDTestCase{TestCaseDesc: name}
		l, b := lit[i], bin[i]
		switch name {
		case tTupleName:
			tc.TTupleRes, tc.BinTTupleRes = ranValue(l), ranValue(b)
		case lrsName:
			tc.LrsRes, tc.BinLrsRes = ranValue(l), ranValue(b)
		default:
			tc.HOriginal, tc.HBitstring = ranValue(l), ranValue(b)
		}
		rep.TestCases = append(rep.TestCases, tc)
	}
	// The tool reports the Most Common Value details of its last run: on
	// the samples, or on the bitstring when the samples were not assessed.
	mcv := r.Literal.MCV
	if mcv == nil {
		mcv = r.Bitstring.MCV
	}
	if mcv != nil {
		tc := &rep.TestCases[0]
		tc.McvEstimateMode = ptr(float64(mcv.Mode))
		tc.McvEstimatePHat = ptr(mcv.PHat)
		tc.McvEstimatePU = ptr(mcv.PU)
	}
	overall := NonIIDTestCase{
		TestCaseDesc: overallDesc,
		DataWordSize: ptr(float64(r.Bits)),
		HAssessed:    ptr(r.HAssessed),
	}
	if r.OriginalRun {
		overall.HOriginal = ptr(r.HOriginal)
	}
	if r.BitstringRun {
		overall.HBitstring = ptr(r.HBitstring)
	}
	rep.TestCases = append(rep.TestCases, overall)
	return rep
}

// estimatorNames are the ten estimators in the order of Section 6.3.
var estimatorNames = [...]string{
	mcvName, collisionName, markovName, compressionName, tTupleName,
	lrsName, multiMCWDesc, lagDesc, multiMMCDesc, lz78yDesc,
}

// The testCaseDesc the tool gives the predictors.
const (
	multiMCWDesc = "Multi Most Common in Window Test"
	lagDesc      = "Lag Prediction Test"
	multiMMCDesc = "Multi Markov Model with Counting Test (MultiMMC)"
	lz78yDesc    = "LZ78Y Test"
)

// ten returns the estimates of s in the order of estimatorNames, nil where
// one was not made.
func (s *EstimateSet) ten() [len(estimatorNames)]*Estimate {
	var out [len(estimatorNames)]*Estimate
	if s.MCV != nil {
		out[0] = &s.MCV.Estimate
	}
	if s.Collision != nil {
		out[1] = &s.Collision.Estimate
	}
	if s.Markov != nil {
		out[2] = &s.Markov.Estimate
	}
	if s.Compression != nil {
		out[3] = &s.Compression.Estimate
	}
	if s.TTuple != nil {
		out[4] = &s.TTuple.Estimate
	}
	if s.LRS != nil {
		out[5] = &s.LRS.Estimate
	}
	if s.MultiMCW != nil {
		out[6] = &s.MultiMCW.Estimate
	}
	if s.Lag != nil {
		out[7] = &s.Lag.Estimate
	}
	if s.MultiMMC != nil {
		out[8] = &s.MultiMMC.Estimate
	}
	if s.LZ78Y != nil {
		out[9] = &s.LZ78Y.Estimate
	}
	return out
}

// ranValue returns a pointer to the estimate's value if it ran.
func ranValue(e *Estimate) *float64 {
	if e == nil || !e.Ran() {
		return nil
	}
	return ptr(e.MinEntropy)
}

func ptr(f float64) *float64 { return &f }

// WriteTable writes r as a table for people: each estimator with its section
// and its estimates on the samples and on the bitstring, then the result.
func (r *NonIIDResult) WriteTable(w io.Writer) error {
	ew := &errWriter{w: w}
	track := "initial entropy estimate, SP 800-90B Section 3.1.3"
	if !r.OriginalRun {
		track = "conditioned sequential dataset, SP 800-90B Section 3.1.5.2"
	}
	ew.printf("Non-IID track (SP 800-90B Section 6.3), %s\n", track)
	ew.printf("%d samples of %d bits, %d distinct values", r.Samples, r.Bits, r.K)
	if r.BitstringRun {
		ew.printf("; bitstring of %d bits", r.BitstringLen)
	}
	ew.printf("\n")
	for _, warn := range r.Warnings {
		ew.printf("warning: %s\n", strings.TrimPrefix(warn.Error(), "assess: "))
	}
	ew.printf("\n")

	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Estimator\tSection\t%11s\t%11s\n", "H_original", "H_bitstring")
	lit, bin := r.Literal.ten(), r.Bitstring.ten()
	for i, name := range estimatorNames {
		section := ""
		for _, e := range []*Estimate{lit[i], bin[i]} {
			if e != nil {
				section = e.Section
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, section, tableCell(lit[i]), tableCell(bin[i]))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	ew.printf("\n")
	if r.OriginalRun {
		ew.printf("H_original:  %.6f bits per sample\n", r.HOriginal)
	}
	if r.BitstringRun {
		ew.printf("H_bitstring: %.6f bits per bit (%d × H_bitstring = %.6f)\n", r.HBitstring, r.Bits, float64(r.Bits)*r.HBitstring)
	}
	how := fmt.Sprintf("min(H_original, %d × H_bitstring)", r.Bits)
	switch {
	case !r.BitstringRun:
		how = "H_original"
	case !r.OriginalRun:
		how = fmt.Sprintf("%d × h'", r.Bits)
	}
	ew.printf("Assessed min-entropy: %.6f bits per %d-bit sample (%s)\n", r.HAssessed, r.Bits, how)
	return ew.err
}

// tableCell formats one estimate for the table.
func tableCell(e *Estimate) string {
	switch {
	case e == nil:
		return fmt.Sprintf("%11s", "-")
	case !e.Ran():
		return fmt.Sprintf("%11s", "skipped")
	}
	return fmt.Sprintf("%11.6f", e.MinEntropy)
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) {
	fmt.Fprintf(e, format, args...)
}
