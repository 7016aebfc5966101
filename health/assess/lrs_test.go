package assess

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
				require.Equal(t, "LRS Test", got.Name, seq.label)
				require.Equal(t, "6.3.6", got.Section, seq.label)
				require.True(t, got.Ran(), "%s: skipped: %s", seq.label, got.Skipped)
				assert.Equal(t, c.int(t, pre+"u"), got.U, "%su", pre)
				assert.Equal(t, c.int(t, pre+"v"), got.V, "%sv", pre)
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
