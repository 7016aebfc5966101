package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/hsmentropy/hsmentropy/internal/engine"
	"github.com/hsmentropy/hsmentropy/kernelfeed"
)

// runCheck is entropyd check: it opens every configured source, runs its
// start-up health tests (SP 800-90B §4.3), checks that the kernel can be fed,
// prints a report and fails when any of it failed.
func runCheck(ctx context.Context, s streams, args []string) error {
	cfg, _, err := loadConfig("check", args, os.LookupEnv, s.stdout)
	if err != nil {
		return err
	}
	log := newLogger(s.stderr, cfg.logFormat, cfg.logLevel)
	e, err := newEngine(ctx, cfg, nil, log)
	if err != nil {
		return err
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(ctx, cfg.startupTimeout)
	defer cancel()
	osErr := e.Check(ctx)
	failed := writeCheckReport(s.stdout, e.Stats(), osErr)
	if note := cfg.noHSMNote(); note != "" {
		fmt.Fprintf(s.stdout, "note: %s\n", note)
	}
	cancel()
	if !cfg.noFeed {
		f, err := kernelfeed.Open(kernelfeed.Config{Device: cfg.device})
		if err != nil {
			fmt.Fprintf(s.stdout, "kernel feeding: FAILED: %v\n", err)
			failed++
		} else {
			f.Close()
			fmt.Fprintf(s.stdout, "kernel feeding: permitted on %s\n", cfg.device)
		}
	}
	if ready, err := kernelfeed.KernelReady(); err == nil {
		fmt.Fprintf(s.stdout, "kernel RNG ready: %v\n", ready)
	}
	if failed > 0 {
		return fmt.Errorf("check: %d of the checks failed", failed)
	}
	return nil
}

// writeCheckReport prints one line per source and returns the failures.
// The OS source comes first.
func writeCheckReport(w io.Writer, stats engine.Stats, osErr error) (failed int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tSTATE\tSAMPLES\tRCT MAX/CUTOFF\tAPT MAX/CUTOFF\tRESULT")
	for i, src := range stats.Sources {
		h, st := src.Health, src.State
		result := "ok"
		switch {
		case i == 0 && osErr != nil:
			result = "FAILED: " + osErr.Error()
		case st != engine.StateHealthy:
			result = "FAILED: start-up tests not passed"
			if n := src.Counters.Errors; len(n) > 0 {
				result += fmt.Sprintf(" (errors: %v)", n)
			}
		}
		if result != "ok" {
			failed++
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d/%d\t%d/%d\t%s\n", src.Name, st, h.Samples, h.RCT.Max, h.RCT.Cutoff, h.APT.Max, h.APT.Cutoff, result)
	}
	tw.Flush()
	return failed
}
