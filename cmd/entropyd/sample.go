package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hsmentropy/hsmentropy/internal/engine"
)

const sampleUsage = `Usage: entropyd sample [options]

Writes N raw samples (one byte each), read straight from a source without
health testing or mixing, for "entropyd assess". SP 800-90B asks for at least
1,000,000 samples.

A PKCS#11 token is not a source here: entropyd never writes raw HSM bytes
anywhere (they seed DRBGs), and an HSM's C_GenerateRandom output is already
the output of its own DRBG, so an SP 800-90B estimate of it would say nothing
about the HSM's entropy source. Assess an HSM with its vendor's raw-noise
interface, if it has one.

Options:
`

// runSample is entropyd sample.
func runSample(ctx context.Context, s streams, args []string) error {
	fs := flag.NewFlagSet("sample", flag.ContinueOnError)
	fs.SetOutput(s.stderr)
	src := fs.String("source", "hwrng", "the source: hwrng, os, or file:PATH")
	device := fs.String("hwrng-device", "/dev/hwrng", "the hardware RNG `DEVICE`")
	n := fs.Int64("n", 1000000, "number of samples")
	out := fs.String("o", "-", "write to `FILE`; - is standard output")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), sampleUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError("%v", err)
	}
	if fs.NArg() > 0 {
		return usageError("sample takes no arguments, got %q", fs.Args())
	}
	if *n < 1 {
		return usageError("invalid value for -n: %d is not positive", *n)
	}
	r, err := openSampleSource(ctx, *src, *device)
	if err != nil {
		return err
	}
	defer r.Close()
	w := s.stdout
	if *out != "-" {
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("sample: %w", err)
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriter(w)
	got, err := io.Copy(bw, io.LimitReader(ctxReader{ctx, r}, *n))
	if err == nil {
		err = bw.Flush()
	}
	if err == nil && got < *n {
		err = fmt.Errorf("source ended after %d of %d samples", got, *n)
	}
	if err != nil {
		return fmt.Errorf("sample: %w", err)
	}
	if f, ok := w.(*os.File); ok && f != os.Stdout {
		return f.Close()
	}
	return nil
}

// openSampleSource opens a source by name, raw.
func openSampleSource(ctx context.Context, name, device string) (io.ReadCloser, error) {
	switch {
	case name == engine.OSName:
		return io.NopCloser(engine.OSReader()), nil
	case name == engine.HwrngName:
		return engine.NewFileSource("", device).Open(ctx)
	case strings.HasPrefix(name, "file:"):
		return engine.NewFileSource("", strings.TrimPrefix(name, "file:")).Open(ctx)
	}
	return nil, usageError("invalid value for -source: %q is not hwrng, os or file:PATH", name)
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
