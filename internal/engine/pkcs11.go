package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/hsmentropy/hsmentropy/hsmrand"
	"github.com/hsmentropy/hsmentropy/mixer"
)

// PKCS11Name names the PKCS#11 source in logs and metrics.
const PKCS11Name = "pkcs11"

// PKCS11Source is an open hsmrand Reader. It is opened once, at start, so
// that a configuration error (a wrong PIN above all: retries lock tokens)
// ends entropyd at once; afterwards hsmrand reconnects by itself, and the
// worker's reopenings hand back the same Reader.
//
// The token's own state (hsmrand's, from Config.OnStateChange) drives the
// source's (Upstream): the worker reads only as fast as the engine uses
// bytes, so without it an outage would show only when the worker next read.
// When hsmrand's stream goes down the source is reconnecting; when it is
// healthy again the source is healthy again, which makes the engine feed at
// once.
type PKCS11Source struct {
	once sync.Once
	r    *hsmrand.Reader
	// state is hsmrand's State; watch is the worker's hook once set.
	state atomic.Int32
	watch atomic.Pointer[func(up bool, state string, cause error)]

	mu      sync.Mutex
	changed chan struct{} // closed and replaced at every change of state
}

// OpenPKCS11 opens the token hc names (hc's OnStateChange is the source's).
func OpenPKCS11(ctx context.Context, hc hsmrand.Config) (*PKCS11Source, error) {
	p := &PKCS11Source{changed: make(chan struct{})}
	hc.OnStateChange = p.onStateChange
	r, err := hsmrand.Open(ctx, hc)
	if err != nil {
		return nil, err
	}
	p.r = r
	return p, nil
}

// Name returns PKCS11Name.
func (p *PKCS11Source) Name() string { return PKCS11Name }

// Open returns the same Reader every time, closed only by Close.
func (p *PKCS11Source) Open(context.Context) (io.ReadCloser, error) {
	return pkcs11Stream{p.r}, nil
}

// Close closes the Reader.
func (p *PKCS11Source) Close() error {
	var err error
	p.once.Do(func() { err = p.r.Close() })
	return err
}

// HSMStats returns hsmrand's counters.
func (p *PKCS11Source) HSMStats() hsmrand.Stats { return p.r.Stats() }

// RingSize is a read and what a feed takes (mixer.SeedLen), no more: with
// the ring's age limit of a feed interval, a feed takes output drawn for
// it, resting on HSM bytes that no other feed used.
func (p *PKCS11Source) RingSize(chunk int) int { return chunk + mixer.SeedLen }

// InputPerByte: each read is one prediction-resistant hsmrand read, one
// reseed from mixer.SeedLen fresh HSM bytes.
func (p *PKCS11Source) InputPerByte(chunk int) float64 {
	return min(1, float64(mixer.SeedLen)/float64(chunk))
}

// UpstreamHealthy reports whether hsmrand's stream is healthy.
func (p *PKCS11Source) UpstreamHealthy() bool {
	return hsmrand.State(p.state.Load()) == hsmrand.StateHealthy
}

// WatchUpstream registers the worker's hook.
func (p *PKCS11Source) WatchUpstream(f func(up bool, state string, cause error)) {
	p.watch.Store(&f)
}

// signal wakes the worker waiting in WaitUpstream.
func (p *PKCS11Source) signal() {
	p.mu.Lock()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// WaitUpstream returns when hsmrand's stream is healthy, or has ended for
// good (the next read then says why), or false when ctx ends.
func (p *PKCS11Source) WaitUpstream(ctx context.Context) bool {
	for {
		p.mu.Lock()
		ch := p.changed
		p.mu.Unlock()
		switch hsmrand.State(p.state.Load()) {
		case hsmrand.StateHealthy, hsmrand.StateFailed, hsmrand.StateClosed:
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-ch:
		}
	}
}

// onStateChange is hsmrand's OnStateChange hook: it runs with hsmrand's
// locks held, so it only swaps atomics and signals the engine.
func (p *PKCS11Source) onStateChange(_, to hsmrand.State, cause error) {
	p.state.Store(int32(to))
	p.signal()
	f := p.watch.Load()
	if f == nil || to == hsmrand.StateClosed {
		// entropyd closed the Reader: a stop, not an outage.
		return
	}
	(*f)(to == hsmrand.StateHealthy, to.String(), cause)
}

// pkcs11Stream reads the Reader; a permanent failure (a refused login, a
// health failure, under hsmrand's FailClosed policy sticky) takes the
// source out for good.
type pkcs11Stream struct{ r *hsmrand.Reader }

func (s pkcs11Stream) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if errors.Is(err, hsmrand.ErrSourceFailed) || errors.Is(err, hsmrand.ErrHealthFailure) || errors.Is(err, hsmrand.ErrClosed) {
		err = fmt.Errorf("%w: %w", ErrExhausted, err)
	}
	return n, err
}

func (pkcs11Stream) Close() error { return nil }
