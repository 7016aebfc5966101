package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/hsmrand"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// upstreamSource is a Source with an upstream whose health the test sets,
// as hsmrand's Reader sets a PKCS11Source's; it reads crypto/rand and
// reports itself as an HSM (HSMStatser).
type upstreamSource struct {
	mu      sync.Mutex
	up      bool
	changed chan struct{}
	watch   func(up bool, state string, cause error)
}

func newUpstreamSource() *upstreamSource {
	return &upstreamSource{up: true, changed: make(chan struct{})}
}

func (u *upstreamSource) Name() string { return "upstream" }
func (u *upstreamSource) Open(context.Context) (io.ReadCloser, error) {
	return io.NopCloser(rand.Reader), nil
}
func (u *upstreamSource) HSMStats() hsmrand.Stats {
	if u.UpstreamHealthy() {
		return hsmrand.Stats{State: hsmrand.StateHealthy}
	}
	return hsmrand.Stats{State: hsmrand.StateSourceDown, LastError: "token gone"}
}

func (u *upstreamSource) UpstreamHealthy() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.up
}

func (u *upstreamSource) WaitUpstream(ctx context.Context) bool {
	for {
		u.mu.Lock()
		up, ch := u.up, u.changed
		u.mu.Unlock()
		if up {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-ch:
		}
	}
}

func (u *upstreamSource) WatchUpstream(f func(up bool, state string, cause error)) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.watch = f
}

// set moves the upstream and calls the engine's hook, as hsmrand's
// OnStateChange does.
func (u *upstreamSource) set(up bool) {
	u.mu.Lock()
	u.up = up
	close(u.changed)
	u.changed = make(chan struct{})
	f := u.watch
	u.mu.Unlock()
	var cause error
	if !up {
		cause = errors.New("token gone")
	}
	f(up, "test", cause)
}

func testConfig(specs ...Spec) Config {
	return Config{
		Sources: specs, FeedBytes: 64, CreditBits: 6, FeedInterval: time.Hour,
		StartupTimeout: 30 * time.Second, SourceTimeout: 5 * time.Second,
		Log: slog.New(slog.DiscardHandler),
	}
}

// sourceState returns the named source's state from Stats.
func sourceState(e *Engine, name string) State {
	for _, s := range e.Stats().Sources {
		if s.Name == name {
			return s.State
		}
	}
	return -1
}

// An Upstream drives its source's state: down makes it reconnecting and
// the engine not ready (it is the only HSM), up makes it healthy again, the
// engine ready and Run feed at once (a recovery feed), without waiting for
// the period.
func TestUpstreamDrivesState(t *testing.T) {
	u := newUpstreamSource()
	e, err := New(testConfig(Spec{Source: u, Chunk: 256}))
	require.NoError(t, err)
	e.Start(t.Context())
	defer e.Stop()
	require.NoError(t, e.Begin(t.Context()))
	ok, why := e.Readiness()
	require.True(t, ok, why)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()

	u.set(false)
	require.Eventually(t, func() bool { return sourceState(e, "upstream") == StateReconnecting }, 10*time.Second, time.Millisecond)
	ok, why = e.Readiness()
	assert.False(t, ok)
	assert.Contains(t, why, "upstream is reconnecting: token gone")
	feeds := e.Stats().FeedsOK

	u.set(true)
	require.Eventually(t, func() bool { return sourceState(e, "upstream") == StateHealthy }, 10*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return e.Stats().FeedsOK > feeds }, 10*time.Second, time.Millisecond, "no recovery feed")
	ok, why = e.Readiness()
	assert.True(t, ok, why)
}

// A used-up file takes its source out, and with no other source counting
// Run ends with ErrAllFailed.
func TestRunAllFailed(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	b := make([]byte, 4096)
	rand.Read(b)
	require.NoError(t, os.WriteFile(p, b, 0o600))
	cfg := testConfig(Spec{Source: NewFileSource("", p), Chunk: 256})
	cfg.FeedInterval = 10 * time.Millisecond // feeds and expiry empty the ring
	e, err := New(cfg)
	require.NoError(t, err)
	e.Start(t.Context())
	defer e.Stop()
	require.NoError(t, e.Begin(t.Context()))
	done := make(chan error, 1)
	go func() { done <- e.Run(t.Context()) }()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, ErrAllFailed)
	case <-time.After(30 * time.Second):
		require.Fail(t, "Run did not end when the only source was used up")
	}
	assert.True(t, e.AllFailed())
	assert.Equal(t, StateFailed, sourceState(e, "file:"+p))
}
