// Command testreport runs go test and ends with the count of skipped tests
// and each one's reason, so that no skip goes unseen; make test runs the
// suite through it.
//
//	testreport [--allow FILE] -- GO-TEST-ARGS [-- GO-TEST-ARGS ...]
//
// Each group of arguments is one "go test -json" run ($GO, default go), in
// order; its output is shown as go test shows it without -v (each
// package's result, and the output of failing tests). A test skipped in one
// run and passed in another (the race-free pass of a test that skips under
// -race) counts as run. The summary lists every skip left with the reason
// the test gave.
//
// With HSMENTROPY_REQUIRE_NO_SKIPS=1 (CI sets it) a skip that the allow-list
// FILE does not name fails the command; see .ci/allowed-skips for the
// format. The exit status is 1 when a run failed or such a skip occurred, 2
// for a bad command line.
package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
)

// requireEnv, set to "1", makes a skip not on the allow-list a failure.
const requireEnv = "HSMENTROPY_REQUIRE_NO_SKIPS"

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is the command: it returns the exit status.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	allowFile, runs, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "testreport: %v\nusage: testreport [--allow FILE] -- GO-TEST-ARGS [-- GO-TEST-ARGS ...]\n", err)
		return 2
	}
	var allow []allowEntry
	if allowFile != "" {
		if allow, err = readAllowList(allowFile); err != nil {
			fmt.Fprintf(stderr, "testreport: %v\n", err)
			return 2
		}
	}
	goCmd := getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	rep := newReport(stdout)
	failed := false
	for _, r := range runs {
		if err := goTest(goCmd, r, rep, stderr); err != nil {
			fmt.Fprintf(stderr, "testreport: go test %v: %v\n", r, err)
			failed = true
		}
	}
	unallowed := rep.summary(stdout, allow)
	if failed || rep.failed > 0 {
		return 1
	}
	if unallowed > 0 && getenv(requireEnv) == "1" {
		fmt.Fprintf(stdout, "FAIL: skips not on the allow-list: %d (%s=1; the list is %s)\n", unallowed, requireEnv, allowFile)
		return 1
	}
	return 0
}

// parseArgs splits the command line into the allow-list file and the runs.
func parseArgs(args []string) (allowFile string, runs [][]string, err error) {
	for len(args) > 0 && args[0] != "--" {
		switch {
		case (args[0] == "--allow" || args[0] == "-allow") && len(args) > 1:
			allowFile, args = args[1], args[2:]
		default:
			return "", nil, fmt.Errorf("unknown option %q", args[0])
		}
	}
	for len(args) > 0 {
		args = args[1:] // the "--"
		end := 0
		for end < len(args) && args[end] != "--" {
			end++
		}
		if end == 0 {
			return "", nil, fmt.Errorf("an empty group of go test arguments")
		}
		runs, args = append(runs, args[:end]), args[end:]
	}
	if len(runs) == 0 {
		return "", nil, fmt.Errorf("no go test arguments")
	}
	return allowFile, runs, nil
}

// goTest runs "go test -json args" and feeds its events to rep.
func goTest(goCmd string, args []string, rep *report, stderr io.Writer) error {
	cmd := exec.Command(goCmd, append([]string{"test", "-json"}, args...)...)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	readErr := rep.read(out)
	if err := cmd.Wait(); err != nil {
		return err
	}
	return readErr
}
