package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hsmentropy/hsmentropy/internal/nistdata"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// restartDir returns the restart sets with NIST's ea_restart results (see
// internal/nistdata); it skips (or, with HSMENTROPY_REQUIRE_TESTDATA=1,
// fails) when they are missing.
func restartDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(nistdata.Dir(t), "sp800-90b-restart")
}

// TestAssessRestartJSONMatchesTool runs the tool's command lines for the
// non-IID sets through entropyd assess --restart --json and compares with
// the tool's JSON: errorLevel, errorMessage, every test case's h_r, h_c and
// h_i to 1e-9 relative, and the exit status (the tool exits 255 on a failed
// sanity check; entropyd with its own status, 4).
func TestAssessRestartJSONMatchesTool(t *testing.T) {
	dir := restartDir(t)
	for _, c := range []struct {
		name, bits string
		status     int
	}{{"S3", "8", exitRestartSanity}, {"S4", "4", 0}} {
		t.Run(c.name, func(t *testing.T) {
			js, err := os.ReadFile(filepath.Join(dir, c.name+".restart.json"))
			require.NoError(t, err)
			var tool map[string]any
			require.NoError(t, json.Unmarshal(js, &tool))
			hI := strings.Fields(tool["commandline"].(string))[8]
			out, stderr, err := runCmd(t, nil, "assess", "--restart", "--non-iid", "--bits", c.bits,
				"--h-initial", hI, "--json", filepath.Join(dir, c.name+".bin"))
			assert.Equal(t, c.status, exitStatusOf(err), "exit status (%v; %s)", err, stderr)
			var ours map[string]any
			require.NoError(t, json.Unmarshal([]byte(out), &ours), out)
			for _, k := range []string{"IID", "errorLevel", "errorMessage", "type", "sha256"} {
				assert.Equal(t, tool[k], ours[k], k)
			}
			theirs, _ := tool["testCases"].([]any)
			mine, _ := ours["testCases"].([]any)
			require.Len(t, mine, len(theirs))
			for i := range theirs {
				want, got := theirs[i].(map[string]any), mine[i].(map[string]any)
				assert.Equal(t, want["testCaseDesc"], got["testCaseDesc"])
				for _, k := range []string{"h_r", "h_c", "h_i", "dataWordSize"} {
					w, ok := want[k].(float64)
					if !ok {
						assert.NotContains(t, got, k)
						continue
					}
					g, _ := got[k].(float64)
					assert.InEpsilon(t, w, g, 1e-9, "%v %s", want["testCaseDesc"], k)
				}
			}
		})
	}
}

// TestAssessRestartValidationStatus checks exit status 5 for restart data
// that passes the sanity check but fails the validation: rows alternating
// 0101… from a random phase (each column random, each row predictable).
func TestAssessRestartValidationStatus(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	raw := make([]byte, 1000*1000)
	for r := range 1000 {
		phase := rng.IntN(2)
		for c := range 1000 {
			raw[r*1000+c] = byte((c + phase) % 2)
		}
	}
	file := filepath.Join(t.TempDir(), "alternating.bin")
	require.NoError(t, os.WriteFile(file, raw, 0o600))
	out, _, err := runCmd(t, nil, "assess", "--restart", "--bits", "1", "--h-initial", "0.9", file)
	assert.Equal(t, exitRestartValidation, exitStatusOf(err), "%v", err)
	assert.Contains(t, out, "Restart Sanity Check Passed")
	assert.Contains(t, out, "Validation Testing Failed")
	assert.ErrorContains(t, err, "restart validation failed")
	assert.NotContains(t, out, "min(H_r, H_c, H_I)")
}

// exitStatusOf returns the status main exits with for err.
func exitStatusOf(err error) int {
	if err == nil {
		return 0
	}
	return exitStatus(err)
}
