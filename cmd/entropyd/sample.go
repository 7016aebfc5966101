package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/hsmentropy/hsmentropy/internal/engine"
)

const sampleUsage = `entropyd sample writes raw samples (one byte each), read straight from a
source without health testing or mixing, for "entropyd assess".

Usage: entropyd sample [options]
       entropyd sample --restarts R [--per-restart N] [options]

SP 800-90B asks for at least 1,000,000 samples.

With --restarts, it records R restarts of N samples for the restart tests of
SP 800-90B Section 3.1.4 ("entropyd assess --restart", which takes R = N =
1000): it opens the source, reads N samples, closes it, and again, R times,
writing the rows one after another (byte N*r+c is sample c of restart r).
This is a process-level restart: it restarts what entropyd does when it
starts, not the noise source below it.
  hwrng   /dev/hwrng is closed and opened again. The kernel's hw_random driver
          and the device keep running, and bytes the driver had buffered may
          be served first.
  os      Nothing below entropyd restarts: getrandom(2) serves the kernel's
          DRBG, whose output an SP 800-90B assessment cannot judge.
  file    A regular file continues where the last row stopped (a recording
          is split into rows, not replayed). A FIFO is closed and opened
          again between rows; a row that finds an immediate end of file
          (the previous writer still closing) opens it once more.
To restart the noise source itself (power-cycle or reset the device, reload
its driver), record one row per run and restart it in between:
  for i in $(seq 1000); do reset-my-device; entropyd sample --n 1000; done > restarts.bin

A PKCS#11 token is not a source here: entropyd never writes raw HSM bytes
anywhere (they seed DRBGs), and an HSM's C_GenerateRandom output is already
the output of its own DRBG, so an SP 800-90B estimate of it would say nothing
about the HSM's entropy source. Assess an HSM with its vendor's raw-noise
interface, if it has one.

Options:
`

// runSample is entropyd sample.
func runSample(ctx context.Context, s streams, args []string) error {
	fs := quietFlagSet("sample")
	src := fs.String("source", "hwrng", "the `SOURCE`: hwrng, os, or file:PATH")
	device := fs.String("hwrng-device", "/dev/hwrng", "the hardware RNG `DEVICE`")
	n := fs.Int64("n", 1000000, "number of samples `N` (without --restarts)")
	out := fs.String("o", "-", "write to `FILE`; - is standard output")
	restarts := fs.Int("restarts", 0, "record `R` restarts, reopening the source before each")
	perRestart := fs.Int("per-restart", 1000, "`N` samples per restart (with --restarts)")
	if err := fs.Parse(args); err != nil {
		if isHelp(err) {
			fmt.Fprint(s.stderr, sampleUsage)
			writeOptions(s.stderr, fs)
			return err
		}
		return flagError("sample", fs, err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case fs.NArg() > 0:
		return usageError("sample takes no arguments, got %q", fs.Args())
	case *n < 1:
		return usageError("invalid value for --n: %d is not positive", *n)
	case *restarts < 0 || *restarts > maxRestarts:
		return usageError("invalid value for --restarts: %d not in 1..%d", *restarts, maxRestarts)
	case *perRestart < 1 || *perRestart > maxPerRestart:
		return usageError("invalid value for --per-restart: %d not in 1..%d", *perRestart, maxPerRestart)
	case *restarts > 0 && set["n"]:
		return usageError("--n and --restarts exclude each other: --restarts R --per-restart N records R×N samples")
	case *restarts == 0 && set["per-restart"]:
		return usageError("--per-restart applies to --restarts only")
	}
	open, err := engine.RawOpener(*src, *device)
	if err != nil {
		return usageError("invalid value for --source: %v", err)
	}
	rows, rowLen := 1, *n
	if *restarts > 0 {
		rows, rowLen = *restarts, int64(*perRestart)
	}

	w := s.stdout
	if *out != "-" {
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("sample: %w", err)
		}
		defer f.Close()
		w = f
	}
	if err := engine.Record(ctx, open, w, rows, rowLen); err != nil {
		return fmt.Errorf("sample: %w", err)
	}
	if f, ok := w.(*os.File); ok && f != os.Stdout {
		return f.Close()
	}
	return nil
}

// Bounds on --restarts and --per-restart, so that a typo cannot ask for
// terabytes; SP 800-90B asks for 1000 of each.
const (
	maxRestarts   = 1_000_000
	maxPerRestart = 1_000_000
)
