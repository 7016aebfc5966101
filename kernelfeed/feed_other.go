//go:build !linux

package kernelfeed

import "io"

// Feeder is not supported on this system: Open returns ErrUnsupported.
type Feeder struct{}

// Open returns ErrUnsupported on systems other than Linux.
func Open(cfg Config) (*Feeder, error) { return nil, ErrUnsupported }

func (fd *Feeder) Feed(p []byte) (Result, error) { return Result{}, ErrUnsupported }
func (fd *Feeder) FeedCredited(p []byte, maxBits int) (Result, error) {
	return Result{}, ErrUnsupported
}
func (fd *Feeder) FeedFrom(r io.Reader, n int) (Result, error) { return Result{}, ErrUnsupported }
func (fd *Feeder) Reseed() error                               { return ErrUnsupported }
func (fd *Feeder) Stats() Stats                                { return Stats{} }
func (fd *Feeder) Close() error                                { return nil }

// KernelReady returns ErrUnsupported on systems other than Linux.
func KernelReady() (bool, error) { return false, ErrUnsupported }
