package mixer

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// cacheLine is the padding unit of a shard: two 64-byte lines, because x86
// prefetchers fetch lines in pairs, so neighbouring shards locked by
// different cores never share one.
const cacheLine = 128

// shardState is one CTR_DRBG instance with its buffer. Every field except
// the atomics is guarded by mu.
type shardState struct {
	mu   sync.Mutex
	drbg *CTR // nil once the Mixer is closed

	// buf[off:] is generated output not yet served; buf[:off] is zero.
	buf []byte
	off int

	// Since the last instantiation or reseed.
	seededAt  time.Time
	calls     uint64 // Generate requests
	generated uint64 // bytes

	// Scratch for the inputs of one seeding or request, zero when unused.
	entropy [SeedLen]byte // entropy input
	input   [SeedLen]byte // OS bytes: personalization string or additional input

	// Counters of successful reads, kept under mu to spare the read path
	// two atomic additions, and published to the atomics below at every
	// Generate request for Stats to read when the shard is busy.
	reads, served                   uint64
	publishedReads, publishedServed atomic.Uint64

	// Counters for Stats, read without mu.
	generates, reseeds atomic.Uint64
	degraded           atomic.Bool
}

// shard pads shardState to whole cache lines (the Mixer keeps its shards
// in one array).
type shard struct {
	shardState
	_ [cacheLine - unsafe.Sizeof(shardState{})%cacheLine]byte
}

// acquire locks and returns a shard. It first tries the shard this P
// (processor) released last, kept in m.hint, a sync.Pool, whose per-P
// caches give a goroutine the same shard as the last one run on its core,
// so the shard's cache lines stay on that core. Otherwise it tries every
// shard from a random start (math/rand/v2 draws from per-thread runtime
// state, so no shared counter bounces between cores) and waits for the
// start shard only if all are busy.
func (m *Mixer) acquire() *shard {
	if s, _ := m.hint.Get().(*shard); s != nil && s.mu.TryLock() {
		return s
	}
	n := uint32(len(m.shards))
	start := uint32(uint64(rand.Uint32()) * uint64(n) >> 32)
	i := start
	for range n {
		s := &m.shards[i]
		if s.mu.TryLock() {
			return s
		}
		if i++; i == n {
			i = 0
		}
	}
	s := &m.shards[start]
	s.mu.Lock()
	return s
}

// release unlocks s and remembers it as this P's shard.
func (m *Mixer) release(s *shard) {
	s.mu.Unlock()
	m.hint.Put(s)
}

// wipe uninstantiates s and zeroes its buffer and scratch.
func (s *shard) wipe() {
	if s.drbg != nil {
		s.drbg.Wipe()
		s.drbg = nil
	}
	clear(s.buf)
	s.off = len(s.buf)
	clear(s.entropy[:])
	clear(s.input[:])
}
