package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// event is one line of go test -json (cmd/test2json).
type event struct {
	Action     string
	Package    string
	ImportPath string // build-output events
	Test       string
	Output     string
}

// testKey names a test across runs.
type testKey struct{ pkg, test string }

// report follows the events of every run.
type report struct {
	w       io.Writer
	output  map[testKey][]string // a running test's output
	skipped map[testKey]string   // the reason
	passed  map[testKey]bool
	failed  int
}

func newReport(w io.Writer) *report {
	return &report{w: w, output: map[testKey][]string{}, skipped: map[testKey]string{}, passed: map[testKey]bool{}}
}

// maxLine bounds one line of go test -json output.
const maxLine = 16 << 20

// read consumes one run's events, printing what go test without -v would.
func (r *report) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			fmt.Fprintln(r.w, sc.Text()) // not an event: pass it on
			continue
		}
		r.event(e)
	}
	return sc.Err()
}

func (r *report) event(e event) {
	k := testKey{e.Package, e.Test}
	switch {
	case e.Action == "build-output":
		fmt.Fprint(r.w, e.Output)
	case e.Test == "":
		// The package's own lines: its result, and whatever a crashed test
		// binary printed. "PASS" and "FAIL" alone repeat the result.
		if e.Action == "output" && e.Output != "PASS\n" && e.Output != "FAIL\n" && !isFraming(e.Output) {
			fmt.Fprint(r.w, e.Output)
		}
	case e.Action == "output":
		r.output[k] = append(r.output[k], e.Output)
	case e.Action == "pass":
		r.passed[k] = true
		delete(r.output, k)
	case e.Action == "skip":
		r.skipped[k] = skipReason(r.output[k])
		delete(r.output, k)
	case e.Action == "fail":
		r.failed++
		for _, line := range r.output[k] {
			fmt.Fprint(r.w, line)
		}
		delete(r.output, k)
	}
}

// isFraming reports the lines test2json adds around a test's own output.
func isFraming(line string) bool {
	for _, p := range []string{"=== RUN", "=== PAUSE", "=== CONT", "=== NAME", "--- PASS", "--- SKIP"} {
		if strings.HasPrefix(strings.TrimSpace(line), p) {
			return true
		}
	}
	return false
}

// skipReason is the last line a skipped test logged: its t.Skip message.
func skipReason(output []string) string {
	reason := "(no reason given)"
	for _, line := range output {
		if s := strings.TrimSpace(line); s != "" && !isFraming(s) {
			reason = s
		}
	}
	return reason
}

// summary prints the counts and every skip of a test that never passed,
// marking those not on the allow-list, and returns their number.
func (r *report) summary(w io.Writer, allow []allowEntry) (unallowed int) {
	var skips []testKey
	for k := range r.skipped {
		if !r.passed[k] {
			skips = append(skips, k)
		}
	}
	slices.SortFunc(skips, func(a, b testKey) int {
		return strings.Compare(a.pkg+" "+a.test, b.pkg+" "+b.test)
	})
	fmt.Fprintf(w, "\n%d tests passed, %d failed, %d skipped\n", len(r.passed), r.failed, len(skips))
	for _, k := range skips {
		mark := "not on the allow-list"
		if allowed(allow, k) {
			mark = "allowed"
		} else {
			unallowed++
		}
		fmt.Fprintf(w, "  SKIP %s %s (%s): %s\n", k.pkg, k.test, mark, r.skipped[k])
	}
	return unallowed
}
