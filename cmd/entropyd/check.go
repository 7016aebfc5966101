package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/hsmentropy/hsmentropy/kernelfeed"
	"github.com/hsmentropy/hsmentropy/mixer"
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
	events := make(chan event, 64)
	go func() {
		for range events {
		}
	}()
	set, err := newSourceSet(ctx, cfg, log, events)
	if err != nil {
		return err
	}
	defer set.close()
	ctx, cancel := context.WithTimeout(ctx, cfg.startupTimeout)
	defer cancel()
	for _, src := range set.primaries {
		go src.run(ctx)
	}
	var seed [mixer.SeedLen]byte
	_, osErr := set.os.Read(seed[:])
	clear(seed[:])
	for _, src := range set.primaries {
		waitSettled(ctx, src)
	}
	failed := writeCheckReport(s.stdout, set, osErr)
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

// waitSettled waits until src is healthy or failed, or ctx is done.
func waitSettled(ctx context.Context, src *source) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if st := src.getState(); st == stateHealthy || st == stateFailed {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// writeCheckReport prints one line per source and returns the failures.
func writeCheckReport(w io.Writer, set *sourceSet, osErr error) (failed int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tSTATE\tSAMPLES\tRCT MAX/CUTOFF\tAPT MAX/CUTOFF\tRESULT")
	for _, src := range set.all() {
		h := src.tester.Stats()
		st := src.getState()
		result := "ok"
		switch {
		case src == set.os.src && osErr != nil:
			result = "FAILED: " + osErr.Error()
		case st != stateHealthy:
			result = "FAILED: start-up tests not passed"
			if n := src.c.snapshot().Errors; len(n) > 0 {
				result += fmt.Sprintf(" (errors: %v)", n)
			}
		}
		if result != "ok" {
			failed++
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d/%d\t%d/%d\t%s\n", src.name, st, h.Samples, h.RCT.Max, h.RCT.Cutoff, h.APT.Max, h.APT.Cutoff, result)
	}
	tw.Flush()
	return failed
}
