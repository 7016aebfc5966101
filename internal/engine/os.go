package engine

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/hsmentropy/hsmentropy/health"
)

// OSName names the OS source in logs and metrics.
const OSName = "os"

// osBlock is the most the OS source reads from the kernel per call.
const osBlock = 256

// osSource is the operating system's randomness, health-tested, read on
// demand as the mixer's OS input (mixer.Config.OS); it is safe for concurrent
// use. Its state and counters are those of src, whose worker never runs.
type osSource struct {
	src      *worker
	read     func([]byte) (int, error) // getrandom
	mu       sync.Mutex
	scratch  [osBlock]byte
	failedAt time.Time
}

func newOSSource(restoreAfter time.Duration, log *slog.Logger, events chan<- event) (*osSource, error) {
	src, err := newWorker(OSName, nil, osBlock, 0, restoreAfter, 0, log, events)
	if err != nil {
		return nil, err
	}
	return &osSource{src: src, read: osRandom}, nil
}

// Read fills p with health-tested OS bytes. During a start-up test it reads
// on until the test has passed. On error p is zeroed.
func (o *osSource) Read(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.src
	if s.getState() == StateFailed {
		if s.restoreAfter == 0 || time.Since(o.failedAt) < s.restoreAfter {
			return 0, fmt.Errorf("OS source out of service since %s", o.failedAt.Format(time.RFC3339))
		}
		s.log.Info("restoring the source: new start-up test")
		s.tester.Restore()
		s.setState(StateDegraded)
	}
	filled := 0
	for filled < len(p) {
		b := o.scratch[:]
		if s.tester.State() == health.Operational {
			b = b[:min(len(b), len(p)-filled)]
		}
		start := time.Now()
		n, err := o.read(b)
		s.c.observe(n, time.Since(start))
		if err != nil {
			clear(b)
			clear(p)
			s.c.fail(err)
			return 0, fmt.Errorf("reading the OS source: %w", err)
		}
		usable, err := s.check(b[:n])
		if err != nil { // a permanent failure
			clear(b)
			clear(p)
			o.failedAt = time.Now()
			s.log.Error("source taken out of service", "err", err)
			s.setState(StateFailed)
			return 0, fmt.Errorf("OS source: %w", err)
		}
		filled += copy(p[filled:], usable)
		clear(b)
	}
	s.c.used.Add(uint64(len(p)))
	return len(p), nil
}

// OSReader returns the operating system's randomness, read without waiting
// for the kernel RNG to be ready (on Linux, kernelRandom): entropyd's OS
// source reads it, and so must any mixer entropyd gives OS input to, such as
// hsmrand's inside the PKCS#11 source.
func OSReader() io.Reader { return osInput() }
