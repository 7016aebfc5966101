package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/hsmentropy/hsmentropy/internal/softhsmtest"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain makes the test binary double as the entropyd command: testscript
// puts a copy named entropyd first in $PATH, which the scripts and the
// daemon tests run.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"entropyd": main})
}

// TestScripts runs the command-line scripts in testdata/script. Each
// script's directory holds a SoftHSM token: $SOFTHSM2_CONF, $TOKEN_URI
// (with module-path) and $TOKEN_PIN; the condition [softhsm] says whether
// there is one (without SoftHSM the set-up fails when
// HSMENTROPY_REQUIRE_SOFTHSM=1). The command "status N cmd args..." runs
// cmd and requires exit status N.
func TestScripts(t *testing.T) {
	_, _, lookupErr := softhsmtest.Lookup()
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			if lookupErr != nil {
				if os.Getenv(softhsmtest.RequireEnv) == "1" {
					return lookupErr
				}
				return nil
			}
			d, err := softhsmtest.NewDir(filepath.Join(e.WorkDir, ".softhsm"))
			if err != nil {
				return err
			}
			tok, err := d.InitToken("script", "", "")
			if err != nil {
				return err
			}
			e.Setenv(softhsmtest.ConfEnv, d.Conf)
			e.Setenv("TOKEN_URI", "pkcs11:token="+tok.Label+"?module-path="+tok.Module)
			e.Setenv("TOKEN_PIN", tok.PIN)
			return nil
		},
		Condition: func(cond string) (bool, error) {
			if cond == "softhsm" {
				return lookupErr == nil, nil
			}
			return false, errors.New("unknown condition " + cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){"status": scriptStatus},
	})
}

// scriptStatus is the script command "status N cmd args...".
func scriptStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status N cmd args...")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("status: %v", err)
	}
	got := 0
	var ee *exec.ExitError
	switch err := ts.Exec(args[1], args[2:]...); {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("status: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}
