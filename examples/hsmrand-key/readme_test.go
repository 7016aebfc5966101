package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestREADME: the README's "Using it" program is this file, so the program
// the README shows is one go build and go vet compile.
func TestREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	src, err := os.ReadFile("main.go")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(readme), "\n## Using it\n")
	require.True(t, ok, "no \"## Using it\" section in README.md")
	_, block, ok := strings.Cut(section, "```go\n")
	require.True(t, ok, "no Go block in README.md's \"Using it\"")
	block, _, ok = strings.Cut(block, "```\n")
	require.True(t, ok, "unterminated Go block in README.md's \"Using it\"")
	assert.Equal(t, string(src), block, "README.md's \"Using it\" program differs from examples/hsmrand-key/main.go")
}
