package engine

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
)

// Opener opens a source's raw byte stream, as Source's Open does.
type Opener func(ctx context.Context) (io.ReadCloser, error)

// RawOpener returns the opener of a source by name ("os", "hwrng" reading
// device, or "file:PATH"), raw: no health test and no mixing, for recording
// samples for an SP 800-90B assessment. Each call opens it afresh; a
// regular file's offset carries over from one to the next.
func RawOpener(name, device string) (Opener, error) {
	switch {
	case name == OSName:
		return func(context.Context) (io.ReadCloser, error) { return io.NopCloser(OSReader()), nil }, nil
	case name == HwrngName:
		return NewFileSource("", device).Open, nil
	case strings.HasPrefix(name, "file:"):
		return NewFileSource("", strings.TrimPrefix(name, "file:")).Open, nil
	}
	return nil, fmt.Errorf("%q is not hwrng, os or file:PATH", name)
}

// Record writes rows runs of n samples to w, opening the source afresh for
// each: with rows > 1, the restarts of SP 800-90B Section 3.1.4, row-major
// (byte n*r+c is sample c of restart r).
func Record(ctx context.Context, open Opener, w io.Writer, rows int, n int64) error {
	bw := bufio.NewWriter(w)
	for r := range rows {
		if err := recordRow(ctx, open, bw, n); err != nil {
			if rows > 1 {
				err = fmt.Errorf("restart %d of %d: %w", r+1, rows, err)
			}
			return err
		}
	}
	return bw.Flush()
}

// recordRow opens the source, copies n samples from it to w and closes it.
// A source that ends before giving any sample is opened again, up to
// emptyReopens times: a FIFO whose previous writer had not yet closed it.
func recordRow(ctx context.Context, open Opener, w io.Writer, n int64) error {
	for range emptyReopens {
		got, err := recordOnce(ctx, open, w, n)
		switch {
		case err != nil:
			return err
		case got == 0:
			continue
		case got < n:
			return fmt.Errorf("source ended after %d of %d samples", got, n)
		}
		return nil
	}
	return fmt.Errorf("source ended %d times without a sample", emptyReopens)
}

// emptyReopens bounds the openings of a row that find the source empty.
const emptyReopens = 3

// recordOnce opens the source and copies at most n samples to w.
func recordOnce(ctx context.Context, open Opener, w io.Writer, n int64) (int64, error) {
	r, err := open(ctx)
	if err != nil {
		return 0, err
	}
	got, err := io.Copy(w, io.LimitReader(ctxReader{ctx, r}, n))
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	return got, err
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
