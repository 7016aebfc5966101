package mixer

import (
	"crypto/rand"
	"fmt"
	"io"
	"runtime"
	"time"
)

// Defaults for the zero values of [Config].
const (
	// DefaultReseedInterval matches the Linux kernel's CRNG, which reseeds
	// every 60 seconds (crng_reseed_interval).
	DefaultReseedInterval = time.Minute
	// DefaultReseedBytes is 1 GiB per shard: 2^33 bits, far below the
	// 2^48 requests of 2^19 bits that SP 800-90A Rev. 1, Table 3 allows
	// between reseeds, and with a fast primary a 48-byte read per GiB.
	DefaultReseedBytes = 1 << 30
	// DefaultReseedCalls is 2^20 Generate requests per shard, so that small
	// buffers cannot postpone a reseed for much longer than large ones:
	// DefaultReseedBytes / DefaultBufferSize = 2^16 refills come first.
	DefaultReseedCalls = 1 << 20
	// DefaultBufferSize is a quarter of MaxRequest, 16 KiB. One refill is
	// one Generate request, whose AES re-keying and OS read cost about
	// 1-2 µs; 16 KiB spreads that over 512 reads of 32 bytes, and
	// MaxShards buffers still fit in 1 MiB.
	DefaultBufferSize = MaxRequest / 4
	// MaxShards bounds the number of CTR_DRBG instances, whatever
	// GOMAXPROCS says.
	MaxShards = 64
)

// Config configures a [Mixer]. Zero values select the defaults; [New]
// never modifies the Config it is given.
type Config struct {
	// Primary is the primary entropy source (the HSM in hsmrand); required.
	// It is read in SeedLen-byte requests with io.ReadFull, only when a
	// shard is instantiated or reseeded. The Mixer serializes its calls,
	// so it need not be safe for concurrent use. Its bytes are never output.
	Primary io.Reader

	// OS is the operating system's source; nil means crypto/rand.Reader.
	// It is read for every Generate request and must be safe for
	// concurrent use, as crypto/rand.Reader is.
	OS io.Reader

	// Shards is the number of CTR_DRBG instances, each with its own lock
	// and buffer. 0 means GOMAXPROCS at the time of New, capped at
	// MaxShards; otherwise 1 to MaxShards.
	Shards int

	// ReseedInterval is the longest time a shard serves output between
	// seedings: 0 means DefaultReseedInterval, a negative value disables
	// the time trigger. The clock is read only when a shard is about to
	// run a Generate request, so an idle shard reseeds on its next use.
	ReseedInterval time.Duration

	// ReseedBytes bounds the bytes one shard generates between seedings:
	// a shard reseeds before a request that would take it past the bound.
	// 0 means DefaultReseedBytes.
	ReseedBytes uint64

	// ReseedCalls bounds the Generate requests one shard runs between
	// seedings. 0 means DefaultReseedCalls. The CTR_DRBG's own bound,
	// ReseedInterval requests, applies in any case.
	ReseedCalls uint64

	// BufferSize is the bytes each shard generates per refill and serves
	// to reads shorter than it: 0 means DefaultBufferSize, otherwise
	// BlockLen to MaxRequest. Longer reads are generated straight into
	// the caller's slice.
	BufferSize int

	// PredictionResistance makes every Read behave as ReadPR.
	PredictionResistance bool

	// OnPrimaryError decides what happens when reading the primary fails
	// during an instantiation or a reseed; see [Decision]. It receives the
	// error from io.ReadFull, may be called from several goroutines at once,
	// and runs while the shard concerned is locked (other shards keep
	// serving), so it must not read from the Mixer itself. nil means
	// always Fail.
	OnPrimaryError func(err error) Decision
}

// settings is a validated Config with its defaults filled in.
type settings struct {
	primary        io.Reader
	os             io.Reader
	shards         int
	reseedInterval time.Duration // ≤ 0: no time trigger
	reseedBytes    uint64
	reseedCalls    uint64
	bufferSize     int
	pr             bool
	seeding        Seeding // of every seeding but ReadPRWith's: the primary and OnPrimaryError
}

// settings validates c and returns a copy with the defaults applied.
func (c *Config) settings() (settings, error) {
	s := settings{
		primary:        c.Primary,
		os:             c.OS,
		shards:         c.Shards,
		reseedInterval: c.ReseedInterval,
		reseedBytes:    c.ReseedBytes,
		reseedCalls:    c.ReseedCalls,
		bufferSize:     c.BufferSize,
		pr:             c.PredictionResistance,
		seeding:        Seeding{OnError: c.OnPrimaryError},
	}
	if s.primary == nil {
		return settings{}, fmt.Errorf("mixer: Config.Primary is nil, a primary source is required")
	}
	if s.os == nil {
		s.os = rand.Reader
	}
	switch {
	case s.shards == 0:
		s.shards = min(runtime.GOMAXPROCS(0), MaxShards)
	case s.shards < 0 || s.shards > MaxShards:
		return settings{}, fmt.Errorf("mixer: Config.Shards is %d, want 0 (GOMAXPROCS) or 1 to %d", s.shards, MaxShards)
	}
	if s.reseedInterval == 0 {
		s.reseedInterval = DefaultReseedInterval
	}
	if s.reseedBytes == 0 {
		s.reseedBytes = DefaultReseedBytes
	}
	if s.reseedCalls == 0 {
		s.reseedCalls = DefaultReseedCalls
	}
	switch {
	case s.bufferSize == 0:
		s.bufferSize = DefaultBufferSize
	case s.bufferSize < BlockLen || s.bufferSize > MaxRequest:
		return settings{}, fmt.Errorf("mixer: Config.BufferSize is %d, want 0 (default) or %d to %d", s.bufferSize, BlockLen, MaxRequest)
	}
	return s, nil
}
