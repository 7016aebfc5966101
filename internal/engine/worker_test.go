package engine

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/health"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRingTakeWithin(t *testing.T) {
	r := newRing(64, 0)
	go func() {
		time.Sleep(20 * time.Millisecond)
		r.put(make([]byte, 48))
	}()
	alive := func() bool { return true }
	require.True(t, r.takeWithin(context.Background(), make([]byte, 48), 5*time.Second, alive), "takeWithin did not get bytes put later")
	start := time.Now()
	require.False(t, r.takeWithin(context.Background(), make([]byte, 48), 50*time.Millisecond, alive), "takeWithin got bytes from an empty ring")
	assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond, "takeWithin gave up before its timeout")
}

// chanReader returns the byte blocks sent on it, then EOF when closed.
type chanReader struct{ ch chan []byte }

func (c chanReader) Read(p []byte) (int, error) {
	b, ok := <-c.ch
	if !ok {
		return 0, io.EOF
	}
	return copy(p, b), nil
}
func (c chanReader) Close() error { return nil }

// funcSource is a Source that opens with a function.
type funcSource func(ctx context.Context) (io.ReadCloser, error)

func (funcSource) Name() string                                      { return "test" }
func (f funcSource) Open(ctx context.Context) (io.ReadCloser, error) { return f(ctx) }

func testSource(t *testing.T, open funcSource, restoreAfter time.Duration) (*worker, chan event) {
	t.Helper()
	events := make(chan event, 64)
	s, err := newWorker("test", open, 256, 0, restoreAfter, 0, slog.New(slog.DiscardHandler), events)
	require.NoError(t, err)
	return s, events
}

// waitEvent waits for the source to move to state.
func waitEvent(t *testing.T, events chan event, to State) event {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.to == to {
				return ev
			}
		case <-timeout:
			require.Failf(t, "no state change", "no move to %v", to)
		}
	}
}

func randomBlock(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestSourceLifecycle walks a source through healthy, failed (stuck output),
// restored and recovered, with its tested bytes kept and discarded.
func TestSourceLifecycle(t *testing.T) {
	ch := make(chan []byte)
	s, events := testSource(t, func(context.Context) (io.ReadCloser, error) { return chanReader{ch}, nil }, 10*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.run(ctx)

	for range health.StartUpSamples / 256 {
		ch <- randomBlock(256)
	}
	held, _, _ := s.ready.state()
	require.Zero(t, held, "bytes released during the start-up test")
	ch <- randomBlock(256)
	ev := waitEvent(t, events, StateHealthy)
	assert.False(t, ev.recovered, "first healthy state marked as a recovery")
	ch <- make([]byte, 256) // stuck: permanent RCT failure within the block
	waitEvent(t, events, StateFailed)
	held, _, _ = s.ready.state()
	assert.Zero(t, held, "failed source still holds bytes")
	st := s.tester.Stats()
	assert.NotZero(t, st.RCT.Permanent, "no permanent RCT failure counted: %+v", st.RCT)
	waitEvent(t, events, StateDegraded) // restored after 10 ms
	for range health.StartUpSamples/256 + 1 {
		ch <- randomBlock(256)
	}
	ev = waitEvent(t, events, StateHealthy)
	assert.True(t, ev.recovered, "healthy again after a failure not marked as a recovery")
}

// TestSourceReconnects: a read error moves the source to reconnecting and it
// is reopened.
func TestSourceReconnects(t *testing.T) {
	opens := make(chan chan []byte, 4)
	s, events := testSource(t, func(context.Context) (io.ReadCloser, error) {
		ch := make(chan []byte)
		opens <- ch
		return chanReader{ch}, nil
	}, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.run(ctx)
	first := <-opens
	close(first) // EOF
	waitEvent(t, events, StateReconnecting)
	second := <-opens
	for range health.StartUpSamples/256 + 1 {
		second <- randomBlock(256)
	}
	ev := waitEvent(t, events, StateHealthy)
	assert.False(t, ev.recovered, "a source never healthy before is not recovering")
	assert.Equal(t, uint64(1), s.c.snapshot().Errors["EOF"], "EOF errors")
}

// TestFileSourceUsedOnce: a regular file is read once, across reopenings.
func TestFileSourceUsedOnce(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(p, []byte("0123456789"), 0o600))
	f := NewFileSource("", p)
	r, err := f.Open(context.Background())
	require.NoError(t, err)
	buf := make([]byte, 4)
	n, _ := r.Read(buf)
	require.Equal(t, "0123", string(buf[:n]))
	r.Close()
	r, err = f.Open(context.Background())
	require.NoError(t, err)
	got, err := io.ReadAll(r)
	assert.Equal(t, "456789", string(got), "reopened file")
	assert.ErrorIs(t, err, ErrExhausted, "reopened file")
	r.Close()
	_, err = f.Open(context.Background())
	assert.ErrorIs(t, err, ErrExhausted, "opening a used-up file")
}

// TestOSSource: the OS source releases bytes only after its start-up test,
// and a stuck OS fails.
func TestOSSource(t *testing.T) {
	o, err := newOSSource(0, slog.New(slog.DiscardHandler), make(chan event, 8))
	require.NoError(t, err)
	p := make([]byte, 48)
	_, err = o.Read(p)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, o.src.tester.Stats().Samples, int64(health.StartUpSamples+48), "samples tested after one read")
	assert.Equal(t, StateHealthy, o.src.getState(), "state after one read")
	o.read = func(b []byte) (int, error) { clear(b); return len(b), nil }
	_, err = o.Read(p)
	require.ErrorIs(t, err, health.ErrPermanent, "stuck OS read: want a permanent health failure")
	assert.Equal(t, make([]byte, 48), p, "a failed read left bytes in p")
	_, err = o.Read(p)
	assert.Error(t, err, "read after failure")
	assert.Equal(t, StateFailed, o.src.getState(), "state after failure")
}
