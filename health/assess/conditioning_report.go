package assess

import "io"

// ConditioningReport is the JSON the tool's ea_conditioning writes with -o
// (type "Conditioning"), with the tool's field names, plus tool and
// referenceToolVersion. The tool writes no filename or sha256 here.
type ConditioningReport struct {
	IID                  bool                   `json:"IID"`
	Commandline          string                 `json:"commandline"`
	DateTimeStamp        string                 `json:"dateTimeStamp"`
	ErrorLevel           int                    `json:"errorLevel"`
	ReferenceToolVersion string                 `json:"referenceToolVersion"`
	TestCases            []ConditioningTestCase `json:"testCases"`
	Tool                 string                 `json:"tool"`
	ToolVersion          string                 `json:"toolVersion"`
	Type                 string                 `json:"type"`
}

// ConditioningTestCase is the report's one test case, "Overall". HPrime is
// present for a non-vetted component only.
type ConditioningTestCase struct {
	HIn          float64  `json:"h_in"`
	HOut         float64  `json:"h_out"`
	HPrime       *float64 `json:"h_p,omitempty"`
	NIn          float64  `json:"n_in"`
	NOut         float64  `json:"n_out"`
	NW           float64  `json:"nw"`
	TestCaseDesc string   `json:"testCaseDesc"`
}

// Report builds the tool's JSON report of r.
func (r *ConditioningResult) Report(info RunInfo) ConditioningReport {
	tc := ConditioningTestCase{
		HIn: r.HIn, HOut: r.HOut,
		NIn: float64(r.NIn), NOut: float64(r.NOut), NW: float64(r.NW),
		TestCaseDesc: overallDesc,
	}
	if !r.Vetted {
		tc.HPrime = ptr(r.HPrime)
	}
	return ConditioningReport{
		Commandline:          info.Commandline,
		DateTimeStamp:        info.DateTimeStamp(),
		ReferenceToolVersion: ReferenceToolVersion,
		TestCases:            []ConditioningTestCase{tc},
		Tool:                 ToolName,
		ToolVersion:          info.ToolVersion,
		Type:                 "Conditioning",
	}
}

// WriteText prints r as the tool's text output does, with the full
// precision of a double (17 significant digits; the tool prints its long
// doubles with 22).
func (r *ConditioningResult) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("n_in = %d\nn_out = %d\nnw = %d\nh_in = %.17g\n", r.NIn, r.NOut, r.NW, r.HIn)
	if !r.Vetted {
		ew.printf("h' = %.17g\n", r.HPrime)
	}
	ew.printf("Computed with %d bits of precision.\n", r.Precision)
	ew.printf("Output_Entropy(*) = %.17g", r.OutputEntropy)
	if r.OutputEntropy == float64(r.NOut) {
		ew.printf("; Close to n_out (epsilon = 2^(-%.17g))", r.Epsilon)
	}
	ew.printf("\n")
	if r.Vetted {
		ew.printf("(Vetted) h_out = %.17g\n", r.HOut)
		if r.HOut > 0.999*float64(r.NOut) {
			ew.printf("epsilon = 2^(-%.17g)", r.Epsilon)
			if r.FullEntropy() {
				ew.printf(": full entropy (epsilon <= 2^-64)")
			}
			ew.printf("\n")
		}
		return ew.err
	}
	ew.printf("0.999 * n_out = %.17g\nh' * n_out = %.17g\n", 0.999*float64(r.NOut), r.HPrime*float64(r.NOut))
	ew.printf("(Non-vetted) h_out = %.17g\n", r.HOut)
	return ew.err
}
