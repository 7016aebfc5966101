package faultp11

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Call is one line of the module's call log: a wrapped function and what it
// returned to the caller, injected or not.
type Call struct {
	Func string // e.g. "C_GenerateRandom"
	RV   uint   // the CK_RV
}

// ReadLog reads the call log the module writes to FAULTP11_LOG, oldest
// call first.
func ReadLog(path string) ([]Call, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("faultp11: %w", err)
	}
	defer f.Close()
	var calls []Call
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fn, rv, ok := strings.Cut(sc.Text(), " ")
		v, err := strconv.ParseUint(rv, 0, 64)
		if !ok || !strings.HasPrefix(fn, "C_") || err != nil {
			return nil, fmt.Errorf("faultp11: %s:%d: malformed call log line %q", path, n, sc.Text())
		}
		calls = append(calls, Call{Func: fn, RV: uint(v)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("faultp11: %w", err)
	}
	return calls, nil
}

// Count returns how many of calls are to fn.
func Count(calls []Call, fn string) int {
	n := 0
	for _, c := range calls {
		if c.Func == fn {
			n++
		}
	}
	return n
}
