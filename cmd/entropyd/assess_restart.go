package main

import (
	"context"
	"fmt"

	"github.com/hsmentropy/hsmentropy/health/assess"
)

// Exit statuses of entropyd assess --restart when a check fails (NIST's
// ea_restart exits 255 for both).
const (
	exitRestartSanity     = 4
	exitRestartValidation = 5
)

// statusError is an error that main exits with a status of its own for.
type statusError struct {
	status int
	err    error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// ExitCode is the exit status for the error.
func (e *statusError) ExitCode() int { return e.status }

// assessRestart runs the restart tests and prints their text or JSON; a
// failed check is reported after the output, with its exit status.
func assessRestart(ctx context.Context, s streams, d *assess.Data, f assessFlags, info assess.RunInfo, prog *progress) error {
	for _, n := range []string{"conditioned", "truncate", "verbose"} {
		if f.set[n] {
			return usageError("assess: --%s does not apply to --restart", n)
		}
	}
	r, err := assess.Restart(ctx, d, assess.RestartOptions{
		IID:             f.iid,
		HInitial:        f.hInitial.v,
		HInitialGiven:   f.hInitial.set,
		Workers:         f.workers,
		Shuffles:        f.shuffles,
		Progress:        prog.estimators,
		ShuffleProgress: prog.shuffles,
	})
	prog.done()
	if err != nil {
		return fmt.Errorf("%s: %w", displayName(info.Filename), err)
	}
	if f.json {
		err = assess.WriteJSON(s.stdout, r.Report(info))
	} else {
		err = r.WriteText(s.stdout)
	}
	if err != nil {
		return err
	}
	switch {
	case !r.SanityPassed:
		return &statusError{exitRestartSanity, fmt.Errorf("assess: %s: %s", displayName(info.Filename), r)}
	case !r.ValidationPassed:
		return &statusError{exitRestartValidation, fmt.Errorf("assess: %s: %s", displayName(info.Filename), r)}
	}
	return nil
}
