package assess

import "testing"

// TestLRS compares the LRS estimate of every sample file, on the bitstring
// and on the literal samples, with the tool's u, v, p-hat, p_u and estimate
// (verbose text) and its JSON.
func TestLRS(t *testing.T) {
	n := 0
	for _, c := range ptLoad(t) {
		t.Run(c.name, func(t *testing.T) {
			for _, seq := range c.sequences() {
				_, got := TupleEstimates(seq.s, seq.k)
				pre := seq.label + " LRS Estimate: "
				if got.Name != "LRS Test" || got.Section != "6.3.6" || !got.Ran() {
					t.Fatalf("%s: %+v", seq.label, got.Estimate)
				}
				if w := c.int(t, pre+"u"); got.U != w {
					t.Errorf("%su = %d, tool %d", pre, got.U, w)
				}
				if w := c.int(t, pre+"v"); got.V != w {
					t.Errorf("%sv = %d, tool %d", pre, got.V, w)
				}
				ptCheck(t, pre+"p-hat", got.PHat, c.float(t, pre+"p-hat"))
				ptCheck(t, pre+"p_u", got.PU, c.float(t, pre+"p_u"))
				ptCheck(t, pre+"min entropy", got.MinEntropy, c.float(t, pre+"min entropy"))
				key := "lrsRes"
				if seq.label == "Bitstring" {
					key = "binLrsRes"
				}
				ptCheck(t, "JSON "+key, got.MinEntropy, c.json["LRS Test"][key])
				n++
			}
		})
	}
	t.Logf("%d LRS estimates agree with the tool", n)
}
