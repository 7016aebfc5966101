package kernelfeed

import (
	"errors"
	"math"
)

// DefaultDevice is the device the ioctls are issued on.
const DefaultDevice = "/dev/random"

// MaxChunk is the largest number of bytes passed to one RNDADDENTROPY call.
// Larger feeds are split.
const MaxChunk = 4096

var (
	// ErrNotPermitted is returned (wrapped) when the process lacks
	// CAP_SYS_ADMIN in the initial user namespace.
	ErrNotPermitted = errors.New("kernelfeed: feeding the kernel pool needs CAP_SYS_ADMIN in the initial user namespace (container root usually lacks it)")
	// ErrUnsupported is returned by Open on systems other than Linux.
	ErrUnsupported = errors.New("kernelfeed: feeding the kernel pool is only supported on Linux")
	// ErrClosed is returned by a Feeder after Close.
	ErrClosed = errors.New("kernelfeed: feeder is closed")
)

// Config configures a Feeder. The zero Config is valid: it feeds
// DefaultDevice, credits nothing and never forces a reseed.
type Config struct {
	// Device is the character device to issue the ioctls on; "" means
	// DefaultDevice.
	Device string
	// BitsPerByte is the entropy credited per byte fed while the kernel RNG
	// is not yet ready, from 0 (no credit) to 8. Claim no more than the
	// source's assessed min-entropy per byte.
	BitsPerByte float64
	// Reseed asks the kernel to reseed its CRNG (RNDRESEEDCRNG) after each
	// feed once it is ready, so fed bytes are used at once instead of at
	// the next scheduled reseed.
	Reseed bool
}

func (c Config) validate() error {
	if math.IsNaN(c.BitsPerByte) || c.BitsPerByte < 0 || c.BitsPerByte > 8 {
		return errors.New("kernelfeed: BitsPerByte must be between 0 and 8")
	}
	return nil
}

func (c Config) device() string {
	if c.Device == "" {
		return DefaultDevice
	}
	return c.Device
}

// Credit returns the entropy credit in bits for n bytes at bitsPerByte bits
// per byte, rounded down and never more than 8 bits per byte. It is what
// Feed credits while the kernel RNG is not ready.
func Credit(n int, bitsPerByte float64) int {
	if n <= 0 || !(bitsPerByte > 0) {
		return 0
	}
	bitsPerByte = min(bitsPerByte, 8)
	c := math.Floor(float64(n) * bitsPerByte)
	return int(min(c, float64(8*n), math.MaxInt32))
}

// Result reports one Feed.
type Result struct {
	// Bytes is the number of bytes mixed into the kernel pool.
	Bytes int
	// Credited is the entropy credit in bits given to the kernel; 0 once
	// the kernel RNG is ready.
	Credited int
	// KernelReady tells whether the kernel RNG was ready at the feed.
	KernelReady bool
	// Reseeded tells whether RNDRESEEDCRNG followed the feed.
	Reseeded bool
}

// Stats is a snapshot of a Feeder's counters.
type Stats struct {
	Feeds         uint64 // successful Feed calls
	Bytes         uint64 // bytes mixed into the pool
	CreditedBits  uint64 // bits credited
	Reseeds       uint64 // RNDRESEEDCRNG calls that succeeded
	Errors        uint64 // failed ioctls
	KernelReady   bool   // whether the kernel RNG was ready at the last check
	LastFeedNanos int64  // time of the last successful feed, Unix nanoseconds; 0 if none
}
