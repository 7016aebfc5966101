package main

import (
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain makes the test binary double as the entropyd command: testscript
// puts a copy named entropyd first in $PATH, which the scripts and the
// daemon tests run.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"entropyd": main})
}

// TestScripts runs the command-line scripts in testdata/script.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata/script"})
}
