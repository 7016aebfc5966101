package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSampleRestartsSplitFile checks that a regular file is split into
// rows, not replayed, and that running out of it names the restart.
func TestSampleRestartsSplitFile(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.bin")
	data := make([]byte, 300)
	for i := range data {
		data[i] = byte(i * 7)
	}
	require.NoError(t, os.WriteFile(in, data, 0o600))
	out := filepath.Join(dir, "out.bin")
	_, stderr, err := runCmd(t, nil, "sample", "--source", "file:"+in, "--restarts", "3", "--per-restart", "100", "--o", out)
	require.NoError(t, err, stderr)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, data, got)

	_, _, err = runCmd(t, nil, "sample", "--source", "file:"+in, "--restarts", "4", "--per-restart", "100", "--o", out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "restart 4 of 4")
}
