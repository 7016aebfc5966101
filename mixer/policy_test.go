package mixer

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReseedTriggers(t *testing.T) {
	for _, c := range []struct {
		name        string
		cfg         Config
		reads, size int
		wait        time.Duration
		want        uint64
	}{
		// Reseed before the 4th, 7th and 10th request.
		{"calls", Config{ReseedCalls: 3, BufferSize: 64}, 10, 64, 0, 3},
		// 3 × 64 = 192 ≤ 200 bytes; the 4th request would pass 200.
		{"bytes", Config{ReseedBytes: 200, BufferSize: 64}, 10, 64, 0, 3},
		{"bytes exact", Config{ReseedBytes: 192, BufferSize: 64}, 10, 64, 0, 3},
		// 1 MiB = 16 requests of MaxRequest; reseed before the 5th, 9th, 13th.
		{"calls, direct", Config{ReseedCalls: 4}, 1, 1 << 20, 0, 3},
		{"time", Config{ReseedInterval: 50 * time.Millisecond, BufferSize: 64}, 3, 64, 100 * time.Millisecond, 2},
		{"time disabled", Config{ReseedInterval: -1, BufferSize: 64}, 3, 64, 10 * time.Millisecond, 0},
		// Reads served from the buffer run no request and check nothing.
		{"buffered", Config{ReseedCalls: 1, BufferSize: 1024}, 32, 32, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			primary := newMXSource("P", nil)
			cfg := c.cfg
			cfg.Primary, cfg.Shards = primary, 1
			m := newTestMixer(t, cfg)
			for i := range c.reads {
				if i > 0 {
					time.Sleep(c.wait)
				}
				mxRead(t, m, c.size)
			}
			st := m.Stats()
			assert.Equal(t, c.want, st.Reseeds, "reseeds (%+v)", st)
			_, consumed := primary.stats()
			assert.Equal(t, SeedLen*(1+c.want), consumed, "primary bytes")
		})
	}
}

func TestPredictionResistance(t *testing.T) {
	primary := newMXSource("P", nil)
	m := newTestMixer(t, Config{Primary: primary, Shards: 1, PredictionResistance: true})
	for range 5 {
		mxRead(t, m, 32)
	}
	st := m.Stats()
	assert.Equal(t, uint64(5), st.Reseeds, "5 PR reads: %+v", st)
	assert.Equal(t, uint64(5), st.Generates, "5 PR reads: %+v", st)
	_, consumed := primary.stats()
	assert.Equal(t, uint64(6*SeedLen), consumed, "primary bytes")

	// On a buffered Mixer, ReadPR does not serve the buffer's bytes.
	m = newTestMixer(t, Config{Primary: newMXSource("P", nil), Shards: 1, BufferSize: 1024})
	mxRead(t, m, 32)
	s := &m.shards[0]
	next := bytes.Clone(s.buf[s.off : s.off+32])
	p := make([]byte, 32)
	_, err := m.ReadPR(p)
	require.NoError(t, err)
	assert.NotEqual(t, next, p, "ReadPR served bytes buffered before its reseed")
	assert.Equal(t, next, s.buf[s.off:s.off+32], "ReadPR took bytes from the buffer")
	_, err = m.ReadPR(make([]byte, 100<<10))
	require.NoError(t, err)
	assert.Equal(t, uint64(3), m.Stats().Reseeds, "ReadPR(32) and ReadPR(100 KiB): want 1 + 2 reseeds")
}

// mxHook counts its calls and returns a fixed Decision.
type mxHook struct {
	mu    sync.Mutex
	calls int
	errs  []error
	d     Decision
}

func (h *mxHook) decide(err error) Decision {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	h.errs = append(h.errs, err)
	return h.d
}

func TestPrimaryErrorFail(t *testing.T) {
	primary := newMXSource("P", nil)
	primary.setFailures(-1)
	hook := &mxHook{d: Fail}
	_, err := New(Config{Primary: primary, OnPrimaryError: hook.decide})
	require.ErrorIs(t, err, ErrPrimary, "New with a failing primary")
	require.ErrorIs(t, err, errMxPrimaryDown, "New with a failing primary: want ErrPrimary wrapping the cause")
	if assert.Equal(t, 1, hook.calls, "hook calls, with %v", hook.errs) {
		assert.ErrorIs(t, hook.errs[0], errMxPrimaryDown, "the hook's error")
	}
	// A nil hook means Fail too.
	_, err = New(Config{Primary: primary})
	assert.ErrorIs(t, err, ErrPrimary, "New with nil hook")

	// At a reseed the Read fails, p is zeroed, and the next Read tries again.
	primary.setFailures(0)
	hook = &mxHook{d: Fail}
	m := newTestMixer(t, Config{Primary: primary, Shards: 1, ReseedCalls: 1, BufferSize: 64, OnPrimaryError: hook.decide})
	mxRead(t, m, 64)
	primary.setFailures(1)
	p := bytes.Repeat([]byte{0xff}, 64)
	n, err := m.Read(p)
	assert.Zero(t, n, "Read with the primary down")
	assert.ErrorIs(t, err, ErrPrimary, "Read with the primary down")
	assert.ErrorIs(t, err, errMxPrimaryDown, "Read with the primary down")
	assert.Equal(t, make([]byte, 64), p, "failed Read left bytes in p")
	mxRead(t, m, 64)
	st := m.Stats()
	assert.Equal(t, 1, hook.calls, "hook calls")
	assert.Equal(t, uint64(1), st.PrimaryErrors, "Stats %+v", st)
	assert.Equal(t, uint64(1), st.ReadErrors, "Stats %+v", st)
	assert.Equal(t, uint64(1), st.Reseeds, "Stats %+v", st)
	assert.Equal(t, uint64(2), st.Reads, "Stats %+v", st)
}

func TestPrimaryErrorRetry(t *testing.T) {
	primary := newMXSource("P", nil)
	primary.setFailures(3)
	hook := &mxHook{d: Retry}
	m := newTestMixer(t, Config{Primary: primary, Shards: 1, OnPrimaryError: hook.decide})
	mxRead(t, m, 32)
	st := m.Stats()
	assert.Equal(t, 3, hook.calls, "hook calls")
	assert.Equal(t, uint64(3), st.PrimaryErrors, "Stats %+v", st)
	assert.Zero(t, st.OSOnlySeeds, "Stats %+v", st)
	assert.Zero(t, st.DegradedShards, "Stats %+v", st)
}

// TestPrimaryErrorRetryClose blocks a Read in a hook that waits, closes the
// Mixer meanwhile, and checks the Read then ends with ErrClosed.
func TestPrimaryErrorRetryClose(t *testing.T) {
	primary := newMXSource("P", nil)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hook := func(error) Decision {
		once.Do(func() { close(entered) })
		<-release
		return Retry
	}
	m := newTestMixer(t, Config{Primary: primary, Shards: 1, ReseedCalls: 1, BufferSize: 64, OnPrimaryError: hook})
	mxRead(t, m, 64)
	primary.setFailures(-1)
	readErr := make(chan error)
	go func() {
		_, err := m.Read(make([]byte, 64))
		readErr <- err
	}()
	<-entered
	closed := make(chan struct{})
	go func() {
		m.Close()
		close(closed)
	}()
	for !m.closed.Load() {
		time.Sleep(time.Millisecond)
	}
	select {
	case <-closed:
		require.Fail(t, "Close returned while a Read held the shard")
	default:
	}
	close(release)
	assert.ErrorIs(t, <-readErr, ErrClosed, "blocked Read")
	<-closed
}

func TestPrimaryErrorContinueOSOnly(t *testing.T) {
	var log mxLog
	primary := newMXSource("P", &log)
	primary.setFailures(-1)
	hook := &mxHook{d: ContinueOSOnly}
	m := newTestMixer(t, Config{
		Primary: primary, OS: newMXSource("O", &log),
		Shards: 2, ReseedCalls: 1, BufferSize: 64, OnPrimaryError: hook.decide,
	})
	// Entropy input from the OS, then the OS personalization string.
	assert.Equal(t, "POOPOO", log.sources(), "New's reads: want failed primary, OS entropy, OS personalization")
	st := m.Stats()
	assert.Equal(t, uint64(2), st.OSOnlySeeds, "Stats %+v", st)
	assert.Equal(t, 2, st.DegradedShards, "Stats %+v", st)
	assert.Equal(t, uint64(2), st.PrimaryErrors, "Stats %+v", st)
	a, b := mxRead(t, m, 64), mxRead(t, m, 64)
	assert.NotEqual(t, a, b, "degraded shards repeat output")

	// The primary comes back: the next request of each shard reseeds from
	// it, whatever the reseed policy's counts say.
	primary.setFailures(0)
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		err := m.read(s, make([]byte, 64))
		s.mu.Unlock()
		require.NoError(t, err, "shard %d", i)
	}
	// Each failed primary read made exactly one OS-only seeding.
	st = m.Stats()
	assert.Zero(t, st.DegradedShards, "after the primary came back: %+v", st)
	assert.Equal(t, st.PrimaryErrors, st.OSOnlySeeds, "after the primary came back: OS-only seedings against primary errors")
}

// TestDegradedShardRetriesPrimary checks that a shard seeded from the OS
// alone goes back to the primary at its next request, not only when the
// reseed policy's counts come due.
func TestDegradedShardRetriesPrimary(t *testing.T) {
	primary := newMXSource("P", nil)
	primary.setFailures(-1)
	hook := &mxHook{d: ContinueOSOnly}
	m := newTestMixer(t, Config{
		Primary: primary, OS: newMXSource("O", nil),
		Shards: 1, BufferSize: 64, OnPrimaryError: hook.decide,
	})
	st := m.Stats()
	require.Equal(t, 1, st.DegradedShards, "Stats %+v", st)
	primary.setFailures(0)
	mxRead(t, m, 64) // empties the buffer filled at New
	mxRead(t, m, 64) // refills: the reseed comes first
	st = m.Stats()
	assert.Zero(t, st.DegradedShards, "Stats %+v: want the shard reseeded from the primary", st)
	assert.NotZero(t, st.Reseeds, "Stats %+v: want the shard reseeded from the primary", st)
}

func TestUnknownDecision(t *testing.T) {
	primary := newMXSource("P", nil)
	primary.setFailures(-1)
	_, err := New(Config{Primary: primary, OnPrimaryError: func(error) Decision { return 42 }})
	assert.ErrorIs(t, err, ErrPrimary, "New with a hook returning 42")
	assert.ErrorContains(t, err, "Decision(42)", "New with a hook returning 42")
	for d, want := range map[Decision]string{Fail: "Fail", Retry: "Retry", ContinueOSOnly: "ContinueOSOnly", -1: "Decision(-1)"} {
		assert.Equal(t, want, d.String(), "Decision %d String()", int(d))
	}
}

func TestOSErrorFailsRead(t *testing.T) {
	os := newMXSource("O", nil)
	m := newTestMixer(t, Config{Primary: newMXSource("P", nil), OS: os, Shards: 1})
	os.setFailures(1)
	_, err := m.Read(make([]byte, 32))
	if assert.ErrorIs(t, err, errMxPrimaryDown, "Read with the OS down") {
		assert.True(t, strings.HasPrefix(err.Error(), "mixer: OS source: "), "Read with the OS down: %v, want a mixer: OS source: error", err)
	}
	mxRead(t, m, 32)
}
