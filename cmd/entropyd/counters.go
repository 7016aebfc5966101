package main

import (
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hsmentropy/hsmentropy/hsmrand"
)

// latencyBuckets are the upper bounds, in seconds, of the read latency
// histogram: from 10 µs (SoftHSM, getrandom) to 2.5 s (a network HSM at its
// worst), by factors of about 2.5.
var latencyBuckets = [...]float64{1e-5, 2.5e-5, 1e-4, 2.5e-4, 1e-3, 2.5e-3, 1e-2, 2.5e-2, 0.1, 0.25, 1, 2.5}

// counters are one source's read counters. The histogram is kept here, not in
// a Prometheus type, so that metrics are built from snapshots at scrape time.
type counters struct {
	bytes, reads atomic.Uint64
	used         atomic.Uint64
	buckets      [len(latencyBuckets)]atomic.Uint64 // non-cumulative
	sumNanos     atomic.Int64

	mu     sync.Mutex
	errors map[string]uint64
}

// observe records one read of n bytes that took d.
func (c *counters) observe(n int, d time.Duration) {
	c.reads.Add(1)
	c.bytes.Add(uint64(n))
	c.sumNanos.Add(int64(d))
	s := d.Seconds()
	for i, ub := range latencyBuckets {
		if s <= ub {
			c.buckets[i].Add(1)
			break
		}
	}
}

// fail counts an error by its code.
func (c *counters) fail(err error) {
	code := errorCode(err)
	c.mu.Lock()
	if c.errors == nil {
		c.errors = map[string]uint64{}
	}
	c.errors[code]++
	c.mu.Unlock()
}

// counterSnapshot is a copy of counters.
type counterSnapshot struct {
	Bytes, Reads, Used uint64
	// Buckets are cumulative counts for latencyBuckets; Reads is the +Inf one.
	Buckets []uint64
	Sum     time.Duration
	Errors  map[string]uint64
}

func (c *counters) snapshot() counterSnapshot {
	s := counterSnapshot{
		Bytes: c.bytes.Load(), Reads: c.reads.Load(), Used: c.used.Load(),
		Sum:     time.Duration(c.sumNanos.Load()),
		Buckets: make([]uint64, len(latencyBuckets)),
		Errors:  map[string]uint64{},
	}
	var cum uint64
	for i := range c.buckets {
		cum += c.buckets[i].Load()
		s.Buckets[i] = cum
	}
	c.mu.Lock()
	for k, v := range c.errors {
		s.Errors[k] = v
	}
	c.mu.Unlock()
	return s
}

// coder is an error that names its own code.
type coder interface{ Code() string }

// errorCode names an error for the errors metric: its own code, a PKCS#11
// return value (CKR_DEVICE_ERROR), an errno name (EIO), "EOF", or "other".
func errorCode(err error) string {
	var c coder
	var errno syscall.Errno
	var pe *hsmrand.PKCS11Error
	switch {
	case errors.As(err, &c):
		return c.Code()
	case errors.As(err, &pe):
		return hsmrand.CKRName(pe.Code)
	case errors.As(err, &errno):
		if name := errnoName(errno); name != "" {
			return name
		}
		return "errno_" + errno.Error()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF"
	case errors.Is(err, os.ErrNotExist):
		return "ENOENT"
	case errors.Is(err, os.ErrPermission):
		return "EACCES"
	}
	return "other"
}
