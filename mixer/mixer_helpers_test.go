package mixer

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// mxLog records, across several mxSources, which source each Read call
// went to, in order.
type mxLog struct {
	mu     sync.Mutex
	events []mxEvent
}

type mxEvent struct {
	src  string
	data []byte
}

func (l *mxLog) add(src string, p []byte) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, mxEvent{src, bytes.Clone(p)})
}

// sources returns the sources of the recorded reads, in order, as one
// letter each: "POPO...".
func (l *mxLog) sources() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b []byte
	for _, e := range l.events {
		b = append(b, e.src[0])
	}
	return string(b)
}

// errMxPrimaryDown is the error of a failing mxSource.
var errMxPrimaryDown = errors.New("test: primary source down")

// mxSource is a deterministic, recording reader. Without replay, byte i of
// its stream is byte i%32 of SHA-256(name || i/32), so no two 16-byte
// windows of different streams or positions coincide. With replay it
// returns those bytes and then io.EOF. While failures is nonzero each Read
// fails (and decrements it unless negative).
type mxSource struct {
	mu       sync.Mutex
	name     string
	log      *mxLog
	replay   []byte
	pos      uint64
	failures int
	calls    int
	consumed uint64
}

func newMXSource(name string, log *mxLog) *mxSource {
	return &mxSource{name: name, log: log}
}

func (s *mxSource) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.failures != 0 {
		if s.failures > 0 {
			s.failures--
		}
		s.log.add(s.name+"!", nil)
		return 0, errMxPrimaryDown
	}
	if s.replay != nil {
		if s.pos >= uint64(len(s.replay)) {
			return 0, io.EOF
		}
		n := copy(p, s.replay[s.pos:])
		s.pos += uint64(n)
		s.consumed += uint64(n)
		s.log.add(s.name, p[:n])
		return n, nil
	}
	mxFill(s.name, s.pos, p)
	s.pos += uint64(len(p))
	s.consumed += uint64(len(p))
	s.log.add(s.name, p)
	return len(p), nil
}

func (s *mxSource) setFailures(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = n
}

func (s *mxSource) stats() (calls int, consumed uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, s.consumed
}

// mxFill fills p with bytes [off, off+len(p)) of the named stream.
func mxFill(name string, off uint64, p []byte) {
	for len(p) > 0 {
		var in []byte
		in = binary.BigEndian.AppendUint64(append(in, name...), off/sha256.Size)
		block := sha256.Sum256(in)
		n := copy(p, block[off%sha256.Size:])
		p = p[n:]
		off += uint64(n)
	}
}

// mxStream returns bytes [off, off+n) of the named mxSource stream.
func mxStream(name string, off, n uint64) []byte {
	b := make([]byte, n)
	mxFill(name, off, b)
	return b
}

// newTestMixer returns a Mixer that is closed when the test ends.
func newTestMixer(t testing.TB, cfg Config) *Mixer {
	t.Helper()
	m, err := New(cfg)
	require.NoError(t, err, "New")
	t.Cleanup(func() { m.Close() })
	return m
}

// mxRead reads n bytes from m and fails the test on error.
func mxRead(t testing.TB, m *Mixer, n int) []byte {
	t.Helper()
	p := make([]byte, n)
	got, err := m.Read(p)
	require.NoError(t, err, "Read(%d bytes)", n)
	require.Equal(t, n, got, "Read(%d bytes)", n)
	return p
}
