package health

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNISTSamples runs the tests over the sample files shipped with NIST's
// SP800-90B_EntropyAssessment tool, claiming the min-entropy the tool
// assessed for each (hAssessed in its ea_non_iid output, default alphas):
//
//   - with that claim no file fails, except that biased-random-bits'
//     claim (0.018 bits) is too low for the APT to fail at all, which
//     NewTester refuses;
//   - claiming full entropy (H = bits per sample), every file the tool
//     rates below 0.6 of full entropy fails, and every file it rates at 0.7
//     or more passes.
func TestNISTSamples(t *testing.T) {
	for _, name := range []string{
		"biased-random-bits", "biased-random-bytes", "data.pi", "normal",
		"rand1_short", "rand4_short", "rand8_short", "ringOsc-nist",
		"truerand_1bit", "truerand_4bit", "truerand_8bit",
	} {
		t.Run(name, func(t *testing.T) {
			bits, assessed := toolAssessment(t, name)
			data := readTestdata(t, "sp800-90b/"+name+".bin")

			cfg := Config{MinEntropy: assessed, BitsPerSample: bits}
			tr, err := NewTester(cfg)
			w := cfg.Window
			if w == 0 {
				w = map[bool]int{true: 1024, false: 512}[bits == 1]
			}
			if APTCutoff(assessed, DefaultPermanentAlpha, w) > w {
				require.Error(t, err, "NewTester(H = %g) with the APT cutoff above the window", assessed)
			} else {
				require.NoError(t, err, "NewTester(H = %g)", assessed)
				fs := feed(t, tr, data)
				assert.Empty(t, fs, "claiming the tool's H = %g", assessed)
			}

			full := newTester(t, Config{MinEntropy: float64(bits), BitsPerSample: bits})
			fs := feed(t, full, data)
			ratio := assessed / float64(bits)
			switch {
			case ratio < 0.6:
				assert.NotEmpty(t, fs, "claiming full entropy (tool: %.3g of it): no failure in %d samples", ratio, len(data))
			case ratio >= 0.7:
				assert.Empty(t, fs, "claiming full entropy (tool: %.3g of it)", ratio)
			}
		})
	}
}

// toolAssessment reads the sample width and hAssessed from the tool's
// ea_non_iid JSON output for name.
func toolAssessment(t *testing.T, name string) (bits int, assessed float64) {
	var out struct {
		TestCases []struct {
			Desc     string  `json:"testCaseDesc"`
			WordSize float64 `json:"dataWordSize"`
			Assessed float64 `json:"hAssessed"`
		} `json:"testCases"`
	}
	require.NoError(t, json.Unmarshal(readTestdata(t, "sp800-90b/"+name+".noniid.json"), &out))
	for _, tc := range out.TestCases {
		if tc.Desc == "Overall" {
			return int(tc.WordSize), tc.Assessed
		}
	}
	require.Fail(t, "no Overall test case in the tool's output")
	return 0, 0
}
