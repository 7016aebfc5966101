package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// HwrngName names the hardware RNG source in logs and metrics.
//
// The hardware RNG (/dev/hwrng) is a character device read like a file
// (FileSource). The kernel's own hwrng thread already feeds the pool from it
// (rng_quality); reading it from user space competes with that thread, so
// entropyd leaves it off by default (--hwrng) and rate-limited
// (--hwrng-rate): here it serves health testing and mixing.
const HwrngName = "hwrng"

// FileSource opens a file, FIFO or character device. A regular file is read
// once from start to end, never again: its offset is kept across reopenings,
// and its end takes the source out (ErrExhausted). A FIFO's end (its writer
// closed it) or a device's read error is a reconnection.
type FileSource struct {
	name   string
	path   string
	offset int64 // of a regular file, bytes already read
}

// NewFileSource returns the source that reads path; name "" names it
// "file:PATH".
func NewFileSource(name, path string) *FileSource {
	if name == "" {
		name = "file:" + path
	}
	return &FileSource{name: name, path: path}
}

// Name returns the source's name.
func (f *FileSource) Name() string { return f.name }

// Open opens the file, continuing a regular file where the last reading
// stopped.
func (f *FileSource) Open(ctx context.Context) (io.ReadCloser, error) {
	fh, err := openCtx(ctx, f.path)
	if err != nil {
		return nil, err
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return fh, nil
	}
	if f.offset >= fi.Size() {
		fh.Close()
		return nil, fmt.Errorf("%w: %s: all %d bytes read", ErrExhausted, f.path, f.offset)
	}
	if _, err := fh.Seek(f.offset, io.SeekStart); err != nil {
		fh.Close()
		return nil, err
	}
	return &regularFile{File: fh, src: f}, nil
}

// openCtx opens path for reading. Opening a FIFO waits for a writer, in a
// system call nothing interrupts: the wait is left behind when ctx ends, and
// a file it opens afterwards is closed.
func openCtx(ctx context.Context, path string) (*os.File, error) {
	type opened struct {
		f   *os.File
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		f, err := os.Open(path)
		ch <- opened{f, err}
	}()
	select {
	case o := <-ch:
		return o.f, o.err
	case <-ctx.Done():
		go func() {
			if o := <-ch; o.f != nil {
				o.f.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// regularFile counts the bytes read and reports the end as ErrExhausted.
type regularFile struct {
	*os.File
	src *FileSource
}

func (r *regularFile) Read(p []byte) (int, error) {
	n, err := r.File.Read(p)
	r.src.offset += int64(n)
	if errors.Is(err, io.EOF) {
		err = fmt.Errorf("%w: %s: end of file after %d bytes", ErrExhausted, r.src.path, r.src.offset)
	}
	return n, err
}
