package mixer

import (
	"errors"
	"sync"
	"sync/atomic"
)

var (
	// ErrClosed is returned by reads from a closed Mixer.
	ErrClosed = errors.New("mixer: closed")
	// ErrPrimary is wrapped, together with the primary's own error, by the
	// error of a New or Read that the OnPrimaryError hook chose to Fail.
	ErrPrimary = errors.New("mixer: primary source failed")
)

// Mixer is an io.Reader whose output mixes a primary entropy source with
// the operating system's, through a set of CTR_DRBG (AES-256, no
// derivation function) shards; the package documentation gives the
// construction and its security argument. A Mixer is safe for concurrent
// use.
type Mixer struct {
	cfg    settings
	shards []shard

	hint      sync.Pool  // of *shard: the shard each P used last
	primaryMu sync.Mutex // serializes reads of cfg.primary
	closed    atomic.Bool

	primaryErrors atomic.Uint64
	osOnlySeeds   atomic.Uint64
	readErrors    atomic.Uint64
}

// New validates cfg and instantiates every shard, each from its own
// SeedLen primary bytes followed by SeedLen OS bytes. If the primary fails,
// cfg.OnPrimaryError decides, as for a reseed; with Fail the error wraps
// ErrPrimary.
func New(cfg Config) (*Mixer, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	m := &Mixer{cfg: s, shards: make([]shard, s.shards)}
	for i := range m.shards {
		sh := &m.shards[i]
		sh.buf = make([]byte, s.bufferSize)
		sh.off = len(sh.buf)
		if err := m.instantiate(sh); err != nil {
			m.Close()
			return nil, err
		}
	}
	return m, nil
}

// Read fills p with random bytes and returns len(p), nil; with
// Config.PredictionResistance it is ReadPR. On error it returns 0 and
// leaves p zeroed: the error is ErrClosed, wraps ErrPrimary when the
// hook chose Fail at a reseed, or reports a failure of the OS source.
//
// Reads shorter than Config.BufferSize are served from the shard's buffer,
// without allocating; longer ones are generated straight into p.
func (m *Mixer) Read(p []byte) (int, error) {
	if m.cfg.pr {
		return m.ReadPR(p)
	}
	s := m.acquire()
	err := m.read(s, p)
	if err == nil {
		s.reads++
		s.served += uint64(len(p))
	}
	m.release(s)
	return m.result(len(p), err)
}

// ReadPR is Read with prediction resistance, per SP 800-90A Rev. 1,
// Section 9.3.1 with prediction_resistance_request set: before each
// Generate request (at most MaxRequest bytes) the shard is reseeded from
// SeedLen fresh primary bytes, with SeedLen fresh OS bytes as additional
// input, and the output is generated straight into p, never from a buffer
// filled earlier. Each call reads the primary at least once, so it is as
// slow as the primary.
func (m *Mixer) ReadPR(p []byte) (int, error) {
	s := m.acquire()
	_, err := m.readPR(s, p, &m.cfg.seeding)
	if err == nil {
		s.reads++
		s.served += uint64(len(p))
	}
	m.release(s)
	return m.result(len(p), err)
}

// result returns the result of a read of n bytes, counting errors.
func (m *Mixer) result(n int, err error) (int, error) {
	if err != nil {
		if !errors.Is(err, ErrClosed) {
			m.readErrors.Add(1)
		}
		return 0, err
	}
	return n, nil
}

// Close uninstantiates every shard (SP 800-90A Rev. 1, Section 9.4) and
// zeroes the buffers. Later reads return ErrClosed. A read blocked in a
// Retry loop of the OnPrimaryError hook delays Close until the hook
// returns. Close always returns nil; closing twice is harmless.
func (m *Mixer) Close() error {
	m.closed.Store(true)
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		s.wipe()
		s.mu.Unlock()
	}
	return nil
}
