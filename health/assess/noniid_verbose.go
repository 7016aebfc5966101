package assess

import (
	"io"
	"strings"
)

// WriteVerbose writes every intermediate value in the format of the tool's
// `ea_non_iid -vv` ("Bitstring Collision Estimate: v = 3199626", …), in the
// tool's order, so that the two outputs can be compared line by line.
func (r *NonIIDResult) WriteVerbose(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("Loaded %d samples of %d distinct %d-bit-wide symbols\n", r.Samples, r.K, r.Bits)
	if r.BitstringRun {
		ew.printf("Number of Binary Symbols: %d\n", r.BitstringLen)
	}
	for _, warn := range r.Warnings {
		ew.printf("*** Warning: %s ***\n", strings.TrimPrefix(warn.Error(), "assess: "))
	}
	if r.K < 1<<r.Bits {
		ew.printf("Symbols have been translated.\n")
	}
	type seq struct {
		label string
		set   *EstimateSet
		ok    bool
	}
	both := []seq{{"Bitstring", &r.Bitstring, r.BitstringRun}, {"Literal", &r.Literal, r.OriginalRun}}
	each := func(f func(label string, s *EstimateSet)) {
		for _, q := range both {
			if q.ok {
				f(q.label, q.set)
			}
		}
	}
	each(func(l string, s *EstimateSet) { verboseMCV(ew, l, s.MCV) })
	each(func(l string, s *EstimateSet) { verboseCollision(ew, l, s.Collision) })
	each(func(l string, s *EstimateSet) { verboseMarkov(ew, l, s.Markov) })
	each(func(l string, s *EstimateSet) { verboseCompression(ew, l, s.Compression) })
	each(func(l string, s *EstimateSet) { verboseTuple(ew, l, s.TTuple, s.LRS) })
	for _, name := range []string{"MultiMCW", "Lag", "MultiMMC", "LZ78Y"} {
		each(func(l string, s *EstimateSet) {
			p := map[string]*PredictionResult{"MultiMCW": s.MultiMCW, "Lag": s.Lag, "MultiMMC": s.MultiMMC, "LZ78Y": s.LZ78Y}[name]
			verbosePrediction(ew, l, name, p)
		})
	}
	if r.BitstringRun {
		ew.printf("H_bitstring = %.17g\n", r.HBitstring)
		ew.printf("H_bitstring Per Symbol = %.17g\n", r.HBitstring*float64(r.Bits))
	}
	if r.OriginalRun {
		ew.printf("H_original = %.17g\n", r.HOriginal)
	}
	ew.printf("Assessed min entropy: %.17g\n", r.HAssessed)
	return ew.err
}

// verboseLine is one "<key> = <value>" of the verbose output, or a bare
// message when val is a string.
type verboseLine struct {
	key string
	val any
}

// writeVerbose writes "<prefix>: <key> = <value>" lines, or why the
// estimate was skipped.
func writeVerbose(w *errWriter, prefix string, skipped string, lines []verboseLine) {
	if skipped != "" {
		w.printf("%s: skipped (%s)\n", prefix, strings.TrimPrefix(skipped, "assess: "))
		return
	}
	for _, l := range lines {
		switch v := l.val.(type) {
		case float64:
			w.printf("%s: %s = %.17g\n", prefix, l.key, v)
		case string:
			w.printf("%s: %s\n", prefix, v)
		default:
			w.printf("%s: %s = %v\n", prefix, l.key, v)
		}
	}
}

func verboseMCV(w *errWriter, label string, r *MCVResult) {
	if r == nil {
		return
	}
	writeVerbose(w, label+" Most Common Value Estimate", r.Skipped, []verboseLine{
		{"Mode count", r.Mode}, {"p-hat", r.PHat}, {"p_u", r.PU}, {"min entropy", r.MinEntropy},
	})
}

func verboseCollision(w *errWriter, label string, r *CollisionResult) {
	if r == nil {
		return
	}
	writeVerbose(w, label+" Collision Estimate", r.Skipped, []verboseLine{
		{"v", r.V}, {"Sum t_i", r.SumT}, {"X-bar", r.XBar}, {"sigma-hat", r.SigmaHat},
		{"X-bar'", r.XBarPrime}, {"", foundLine(r.Found)}, {"p", r.P}, {"min entropy", r.MinEntropy},
	})
}

func verboseMarkov(w *errWriter, label string, r *MarkovResult) {
	if r == nil {
		return
	}
	writeVerbose(w, label+" Markov Estimate", r.Skipped, []verboseLine{
		{"P_0", r.P0}, {"P_1", r.P1}, {"P_{0,0}", r.P00}, {"P_{0,1}", r.P01},
		{"P_{1,0}", r.P10}, {"P_{1,1}", r.P11}, {"p-hat_max", r.PHatMax}, {"min entropy", r.MinEntropy},
	})
}

func verboseCompression(w *errWriter, label string, r *CompressionResult) {
	if r == nil {
		return
	}
	writeVerbose(w, label+" Compression Estimate", r.Skipped, []verboseLine{
		{"X-bar", r.XBar}, {"sigma-hat", r.SigmaHat}, {"X-bar'", r.XBarPrime},
		{"", foundLine(r.Found)}, {"p", r.P}, {"min entropy", r.MinEntropy},
	})
}

func foundLine(found bool) string {
	if found {
		return "Found p."
	}
	return "Could Not Find p. Proceeding with the lower bound for p."
}

func verboseTuple(w *errWriter, label string, t *TTupleResult, l *LRSResult) {
	if t != nil {
		writeVerbose(w, label+" t-Tuple Estimate", t.Skipped, []verboseLine{
			{"t", t.T}, {"p-hat_max", t.PMax}, {"p_u", t.PU}, {"min entropy", t.MinEntropy},
		})
	}
	if l != nil {
		writeVerbose(w, label+" LRS Estimate", l.Skipped, []verboseLine{
			{"u", l.U}, {"v", l.V}, {"p-hat", l.PHat}, {"p_u", l.PU}, {"min entropy", l.MinEntropy},
		})
	}
}

func verbosePrediction(w *errWriter, label, name string, r *PredictionResult) {
	if r == nil {
		return
	}
	local := verboseLine{"P_local", r.PLocal}
	if r.PLocal <= 0 {
		local = verboseLine{"", "P_local can't change the result."}
	}
	writeVerbose(w, label+" "+name+" Prediction Estimate", r.Skipped, []verboseLine{
		{"C", r.C}, {"r", r.R}, {"N", r.N}, {"P_global", r.PGlobal}, {"P_global'", r.PGlobalPrime},
		local, {"min entropy", r.MinEntropy},
	})
}
