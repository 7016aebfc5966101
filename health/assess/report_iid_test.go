package assess

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIIDWriteTable checks the table's verdicts and that a failed test
// prints no estimate.
func TestIIDWriteTable(t *testing.T) {
	d := &Data{Symbols: make([]byte, 1000), Bits: 8, K: 200}
	r := IIDResult{HOriginal: 7.5, HAssessed: 7.5,
		PassedChiSquareTests: true, PassedIIDPermutationTests: true, PassedLongestRepeatedSubstringTest: true}
	var out bytes.Buffer
	require.NoError(t, r.WriteTable(&out, d))
	assert.Contains(t, out.String(), "IID track (SP 800-90B Section 5), 1000 samples of 8 bits, 200 distinct values\n")
	assert.Contains(t, out.String(), "Chi-square tests (5.2.1-5.2.4)   passed\n")
	assert.Contains(t, out.String(), "Assessed min-entropy: 7.500000 bits per 8-bit sample\n")

	r.PassedChiSquareTests = false
	out.Reset()
	require.NoError(t, r.WriteTable(&out, d))
	assert.Contains(t, out.String(), "Chi-square tests (5.2.1-5.2.4)   FAILED\n")
	assert.Contains(t, out.String(), "no entropy may be claimed")
	assert.NotContains(t, out.String(), "Assessed min-entropy")
}

// TestIIDReportJSON checks the report's header and that WriteJSON indents
// by three spaces, as the tool does.
func TestIIDReportJSON(t *testing.T) {
	r := IIDResult{HOriginal: 7.5}
	info := RunInfo{Filename: "f.bin", SHA256: "ab", Commandline: "x --iid", Time: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), ToolVersion: "v1"}
	var out bytes.Buffer
	require.NoError(t, WriteJSON(&out, r.Report(info)))
	assert.Contains(t, out.String(), "{\n   \"IID\": true,\n")
	var got IIDReport
	require.NoError(t, json.Unmarshal(out.Bytes(), &got))
	assert.Equal(t, "20240102030405", got.DateTimeStamp)
	assert.Equal(t, "f.bin", got.Filename)
	assert.Equal(t, ToolName, got.Tool)
	assert.Equal(t, ReferenceToolVersion, got.ReferenceToolVersion)
	require.Len(t, got.TestCases, 1)
	assert.InDelta(t, 7.5, got.TestCases[0].HOriginal, 0)
}
