package hsmrand

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hsmentropy/hsmentropy/health"
	"github.com/hsmentropy/hsmentropy/internal/refill"
)

// drawLive returns n health-tested HSM bytes drawn during the call, for
// GetRandom with Options.LiveGetRandom. The bytes go through the pool's
// tester, the one the refiller's bytes go through: the token's output is
// one stream to the SP 800-90B continuous tests, whoever asked for it, so
// a live draw neither bypasses them nor resets them. While a start-up test
// runs (after an intermittent failure) the draw asks for StartUpSamples
// more bytes, which the test consumes. A health failure is answered as
// the refiller answers it (quarantine the block and the buffer; an
// intermittent failure takes the stream down, a permanent one ends it) and
// fails the call.
func (r *Reader) drawLive(ctx context.Context, n int) (*wipingReader, error) {
	if err := r.pool.fatalError(); err != nil {
		return nil, err // the stream is over
	}
	got := make([]byte, n)
	for filled := 0; filled < n; {
		want := n - filled
		if r.pool.tester.State() != health.Operational {
			want += health.StartUpSamples
		}
		block, err := r.requestLive(ctx, want)
		if err != nil {
			clear(got)
			return nil, err
		}
		usable, verdict, herr := refill.Check(r.pool.tester, block)
		if verdict == refill.Intermittent || verdict == refill.Permanent {
			clear(got)
			return nil, r.pool.healthFailure(block, verdict, herr)
		}
		filled += copy(got[filled:], usable)
		clear(block)
	}
	return &wipingReader{b: got}, nil
}

// requestLive makes one request of n bytes to the source on a goroutine of
// its own, so that the caller returns when ctx ends even if the HSM never
// answers (a cgo call cannot be interrupted). A request abandoned that way
// wipes its bytes when it returns; Close waits for it. The number of such
// requests blocked in the HSM is bounded by the token's sessions
// (Config.MaxSessions), or to one by serialSource.
func (r *Reader) requestLive(ctx context.Context, n int) ([]byte, error) {
	if !r.live.start() {
		return nil, ErrClosed
	}
	block := make([]byte, n)
	res := make(chan error)
	go func() {
		defer r.live.done()
		start := time.Now()
		err := r.pool.src.GenerateRandom(ctx, block)
		r.live.calls.Add(1)
		r.pool.countDraw(time.Since(start), n, err)
		select {
		case res <- err: // the caller owns block now
		case <-ctx.Done():
			clear(block)
		}
	}()
	select {
	case err := <-res:
		if err != nil {
			clear(block)
			return nil, err
		}
		return block, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// liveDraws tracks GetRandom's own requests to the HSM, so that Close can
// wait for them as it waits for the refiller's.
type liveDraws struct {
	mu     sync.RWMutex
	closed bool
	wg     sync.WaitGroup
	calls  atomic.Uint64 // requests made
	failed atomic.Uint64 // GetRandom calls failed for want of live bytes
}

// start registers a request; it reports false once stop was called.
func (l *liveDraws) start() bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return false
	}
	l.wg.Add(1)
	return true
}

func (l *liveDraws) done() { l.wg.Done() }

// stop refuses new requests and waits for those in flight.
func (l *liveDraws) stop() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.wg.Wait()
}

// healthFailure answers a health failure of a block drawn outside the
// refiller as the refiller answers its own, and returns the caller's
// error.
func (p *pool) healthFailure(block []byte, verdict refill.Verdict, herr error) error {
	p.quarantine(block)
	if verdict == refill.Permanent {
		err := fmt.Errorf("%w: %w", ErrHealthFailure, herr)
		p.fail(err)
		return err
	}
	p.setDown(herr)
	return fmt.Errorf("%w: the HSM's output failed a health test: %w", ErrUnavailable, herr)
}

// fatalError returns the permanent failure that ended the stream, or nil.
func (p *pool) fatalError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fatal
}

// countDraw counts a request made outside the refiller.
func (p *pool) countDraw(d time.Duration, n int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.calls++
	p.st.latency += d
	p.st.maxLatency = max(p.st.maxLatency, d)
	if err != nil {
		p.st.errors++
		p.st.lastError = err.Error()
		return
	}
	p.st.bytes += uint64(n)
}

// countUsed counts HSM bytes handed to the mixer outside the buffer.
func (p *pool) countUsed(n int) {
	p.mu.Lock()
	p.st.used += uint64(n)
	p.mu.Unlock()
}

// serialSource makes a source that is not safe for concurrent use (an
// io.Reader given to New) take one request at a time, when GetRandom's
// live draws share it with the refiller. A request waits for its turn no
// longer than its context.
type serialSource struct {
	src  source
	turn chan struct{} // capacity 1: held by the request in flight
}

func newSerialSource(src source) *serialSource {
	return &serialSource{src: src, turn: make(chan struct{}, 1)}
}

func (s *serialSource) GenerateRandom(ctx context.Context, p []byte) error {
	select {
	case s.turn <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("hsmrand: waiting for the source: %w", ctx.Err())
	}
	defer func() { <-s.turn }()
	return s.src.GenerateRandom(ctx, p)
}

func (s *serialSource) Close() error { return s.src.Close() }
