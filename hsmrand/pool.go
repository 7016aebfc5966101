package hsmrand

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hsmentropy/hsmentropy/health"
	"github.com/hsmentropy/hsmentropy/hsmrand/internal/p11"
	"github.com/hsmentropy/hsmentropy/internal/refill"
)

// source is what the pool draws HSM bytes from: a *p11.Token, a *p11.Pool,
// or an io.Reader given to New. GenerateRandom fills p entirely or fails
// (and then p is not used).
type source interface {
	GenerateRandom(ctx context.Context, p []byte) error
	Close() error
}

// readerSource adapts an io.Reader to source. Close does not close it: New
// does not own the reader.
type readerSource struct{ r io.Reader }

func (s readerSource) GenerateRandom(_ context.Context, p []byte) error {
	_, err := io.ReadFull(s.r, p)
	return err
}

func (readerSource) Close() error { return nil }

// Back-off of the refiller after a failed request. The p11 layer keeps its
// own back-off per token and answers at once while it runs; these bounds
// keep the refiller from spinning on it or on a failing io.Reader.
const (
	refillBackoffMin = 10 * time.Millisecond
	refillBackoffMax = time.Second
)

// probeSize is the liveness probe's request: the p11 layer's smallest
// C_GenerateRandom, and enough for the health tests to see.
const probeSize = 32

// permanent reports whether a source error ends the HSM stream for good.
func permanent(err error) bool {
	return errors.Is(err, p11.ErrLoginFatal) || errors.Is(err, p11.ErrNoRNG) ||
		errors.Is(err, p11.ErrModule) || errors.Is(err, p11.ErrClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// poolEvents receives the pool's reports on the HSM stream (the Reader).
type poolEvents interface {
	onSourceDown(cause error)
	onSourceUp()
	onSourceFailed(cause error)
	onPrimaryServed()
}

// pool keeps a bounded buffer of health-tested HSM bytes, filled by a
// refiller goroutine with its own context, and hands each byte out once,
// wiping it as it goes. It is the mixer's primary source: the mixer never
// reads the HSM directly, so no read waits on the HSM while bytes are
// buffered.
type pool struct {
	src      source
	tester   *health.Tester
	events   poolEvents
	policy   Policy
	deadline time.Duration
	probe    time.Duration // 0: no liveness probe

	want   chan struct{} // capacity 1: wakes the refiller
	cancel context.CancelFunc
	done   chan struct{} // closed when the refiller has returned
	chunk  []byte        // the refiller's draw buffer; wiped after each draw

	mu        sync.Mutex
	ring      *refill.Ring  // the buffer: zeroes what leaves it, wiped at its maximum age
	changed   chan struct{} // closed and replaced when bytes arrive or the stream's state changes
	down      error         // why the stream is down; nil when up
	downSince time.Time     // since when it has been unable to deliver; zero when up
	drawing   time.Time     // when the request in flight started; zero when none is
	fatal     error         // a permanent failure; the stream is over
	closed    bool
	st        poolCounters
}

// poolCounters are the pool's running totals; guarded by pool.mu.
type poolCounters struct {
	calls, bytes, errors, used, quarantined, expired, probes uint64
	latency, maxLatency                                      time.Duration
	buffered                                                 int
	lastError                                                string
}

// newPool starts the refiller. size is the buffer's capacity.
func newPool(src source, tester *health.Tester, events poolEvents, s *settings) *pool {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pool{
		src: src, tester: tester, events: events, policy: s.policy, deadline: s.deadline, probe: s.probe,
		want: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{}),
		chunk:   make([]byte, min(s.hsmBuf, maxDraw)),
		changed: make(chan struct{}),
	}
	p.ring = refill.NewRing(s.hsmBuf, s.maxAge, p.expire)
	go p.refill(ctx)
	return p
}

// Read hands out len(b) healthy HSM bytes (the mixer asks for SeedLen) and
// wipes them from the buffer. When the buffer holds too few it wakes the
// refiller and waits, up to the deadline; under Degrade it does not wait
// while the stream is down. The deadline counts from when the stream went
// down, not from each request: seedings queue behind one another (one at a
// time may take HSM bytes), and once the HSM has failed for a whole
// deadline the requests that follow fail at once instead of each waiting
// it out in turn. A request larger than the buffer is served in part
// (io.ReadFull, which the mixer uses, asks again).
func (p *pool) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	p.mu.Lock()
	for {
		p.expireLocked() // no byte older than MaxBufferAge enters a seed
		switch {
		case p.closed:
			p.mu.Unlock()
			return 0, ErrClosed
		case p.ring.Len() >= len(b) || (p.ring.Len() > 0 && len(b) > p.ring.Cap()):
			n := p.take(b)
			p.mu.Unlock()
			p.events.onPrimaryServed()
			return n, nil
		case p.fatal != nil:
			err := p.fatal
			p.mu.Unlock()
			return 0, err
		case p.down != nil && p.policy == Degrade:
			err := p.down
			p.mu.Unlock()
			return 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
		case p.down != nil && time.Since(p.downSince) >= p.deadline:
			err := p.down
			p.mu.Unlock()
			return 0, fmt.Errorf("%w: down for longer than %v: %w", ErrUnavailable, p.deadline, err)
		}
		wait := p.deadline
		if p.down != nil {
			wait -= time.Since(p.downSince)
		}
		ch := p.changed
		p.mu.Unlock()
		p.wake()
		if timer == nil {
			timer = time.NewTimer(wait)
		}
		select {
		case <-ch:
		case <-timer.C:
			cause := p.stalled()
			if cause == nil {
				cause = errors.New("the HSM is too slow for the demand")
			}
			return 0, fmt.Errorf("%w within %v: %w", ErrUnavailable, p.deadline, cause)
		}
		p.mu.Lock()
	}
}

// take moves min(len(b), what is buffered) bytes out of the ring, which
// zeroes them there. p.mu is held.
func (p *pool) take(b []byte) int {
	n := p.ring.Take(b)
	p.st.used += uint64(n)
	if p.ring.Len() <= p.ring.Cap()/2 {
		p.wake()
	}
	return n
}

// expire is the age timer's function: it wipes the buffer if its oldest
// bytes have waited MaxBufferAge, whatever the refiller is doing (drawing from a
// hung HSM, backing off): seed material does not linger, and the refiller
// is woken to draw afresh, which also checks that the HSM still answers.
func (p *pool) expire() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expireLocked()
}

// expireLocked wipes the buffer if its oldest bytes have waited
// MaxBufferAge, or re-arms the age timer for when they will have. p.mu is
// held.
func (p *pool) expireLocked() {
	if p.closed {
		return
	}
	if k := p.ring.Expire(); k > 0 {
		p.st.expired += uint64(k)
		p.wake()
	}
}

// wake asks the refiller to top the buffer up.
func (p *pool) wake() {
	select {
	case p.want <- struct{}{}:
	default:
	}
}

// signal wakes every reader waiting for bytes or for news. p.mu is held.
func (p *pool) signal() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// refill is the refiller goroutine: it tops the buffer up whenever it is
// half empty, in requests of at most maxDraw bytes, health-tests every
// byte, and quarantines (wipes unused) the failing request and everything
// buffered after a health failure. It returns when ctx ends or the stream
// fails for good.
func (p *pool) refill(ctx context.Context) {
	defer close(p.done)
	backoff := time.Duration(0)
	// The liveness probe: when the buffer is full and nothing has asked
	// the HSM for p.probe, a small request checks that it still answers.
	idle := time.NewTimer(time.Hour)
	idle.Stop()
	defer idle.Stop()
	lastDraw := time.Now()
	for {
		p.mu.Lock()
		space, down := p.ring.Free(), p.down != nil
		p.mu.Unlock()
		probe := false
		if space < p.ring.Cap()/2 {
			// While the HSM is down, ask again after the refiller's own
			// back-off (the token layer answers at once until its own
			// back-off ends), so that it is in use again as soon as the
			// token layer finds it.
			every := p.probe
			if down {
				every = min(every, max(backoff, refillBackoffMin))
			}
			var probeC <-chan time.Time
			if every > 0 {
				idle.Reset(max(0, time.Until(lastDraw.Add(every))))
				probeC = idle.C
			}
			select {
			case <-ctx.Done():
				return
			case <-p.want:
				continue
			case <-probeC:
				probe = true
			}
		}
		block := p.chunk[:min(space, len(p.chunk))]
		if probe {
			block = p.chunk[:probeSize]
		}
		lastDraw = time.Now()
		err := p.draw(ctx, block)
		if ctx.Err() != nil {
			clear(block)
			return
		}
		if err != nil {
			clear(block)
			if permanent(err) {
				p.fail(fmt.Errorf("%w: %w", ErrSourceFailed, err))
				return
			}
			p.setDown(err)
			backoff = min(max(2*backoff, refillBackoffMin), refillBackoffMax)
			if !refill.Sleep(ctx, backoff) {
				return
			}
			continue
		}
		backoff = 0
		usable, verdict, herr := refill.Check(p.tester, block)
		switch verdict {
		case refill.Permanent:
			p.quarantine(block)
			p.fail(fmt.Errorf("%w: %w", ErrHealthFailure, herr))
			return
		case refill.Intermittent:
			p.quarantine(block)
			p.setDown(herr) // the start-up test runs again on what follows
			continue
		}
		// Up or StartingUp: the HSM answers with bytes that pass; those
		// after a start-up test's end are usable.
		p.mu.Lock()
		if probe {
			p.st.probes++
			usable = usable[:min(len(usable), p.ring.Free())] // the rest is wiped below
		}
		p.ring.Put(usable) // there is room: space was free, and only the refiller puts
		wasDown := p.down != nil
		p.down, p.downSince = nil, time.Time{}
		p.signal()
		p.mu.Unlock()
		clear(block)
		if wasDown {
			p.events.onSourceUp()
		}
	}
}

// draw makes one request to the source and counts it.
func (p *pool) draw(ctx context.Context, block []byte) error {
	start := time.Now()
	p.mu.Lock()
	p.drawing = start
	p.mu.Unlock()
	// A request that hangs (a network HSM whose connection stalls) shows
	// as an outage after one deadline, even when no read is waiting.
	watchdog := time.AfterFunc(p.deadline, func() { p.stalled() })
	err := p.src.GenerateRandom(ctx, block)
	watchdog.Stop()
	d := time.Since(start)
	p.mu.Lock()
	p.drawing = time.Time{}
	p.st.calls++
	p.st.latency += d
	p.st.maxLatency = max(p.st.maxLatency, d)
	if err == nil {
		p.st.bytes += uint64(len(block))
	} else {
		p.st.errors++
	}
	p.mu.Unlock()
	return err
}

// quarantine wipes a block that failed the health tests and every byte
// still buffered: a stuck source may have started failing before the test
// caught it, so bytes drawn just before the failure are not trusted either.
func (p *pool) quarantine(block []byte) {
	clear(block)
	p.mu.Lock()
	p.st.quarantined += uint64(len(block) + p.ring.Wipe())
	p.mu.Unlock()
}

// setDown records a failed request or an intermittent health failure.
func (p *pool) setDown(cause error) {
	p.mu.Lock()
	wasDown := p.down != nil
	if !wasDown {
		p.downSince = time.Now()
	}
	p.down = cause
	p.st.lastError = cause.Error()
	p.signal()
	p.mu.Unlock()
	if !wasDown {
		p.events.onSourceDown(cause)
	}
}

// stalled is called when a reader's deadline passed. If the request in
// flight has taken longer than the deadline (a hung HSM or network), the
// stream is marked down, so that under Degrade later reads go on from the
// OS at once instead of each waiting out the deadline; the refiller's next
// successful request brings it back up. It returns why the stream is down,
// or nil.
func (p *pool) stalled() error {
	p.mu.Lock()
	if p.down != nil || p.drawing.IsZero() {
		cause := p.down
		p.mu.Unlock()
		return cause
	}
	waited := time.Since(p.drawing)
	if waited < p.deadline {
		p.mu.Unlock()
		return nil
	}
	cause := fmt.Errorf("hsmrand: the HSM has not answered a request for %v", waited.Round(time.Millisecond))
	p.down, p.downSince = cause, p.drawing
	p.st.lastError = cause.Error()
	p.signal()
	p.mu.Unlock()
	p.events.onSourceDown(cause)
	return cause
}

// fail ends the stream: the buffer is wiped and every later request fails.
func (p *pool) fail(cause error) {
	p.mu.Lock()
	p.st.quarantined += uint64(p.ring.Wipe())
	p.fatal, p.down = cause, cause
	if p.downSince.IsZero() {
		p.downSince = time.Now()
	}
	p.st.lastError = cause.Error()
	p.signal()
	p.mu.Unlock()
	p.events.onSourceFailed(cause)
}

// waitReady waits until the buffer holds need bytes, the stream fails for
// good, ctx ends or the deadline passes.
func (p *pool) waitReady(ctx context.Context, need int) error {
	timer := time.NewTimer(p.deadline)
	defer timer.Stop()
	p.mu.Lock()
	for {
		switch {
		case p.ring.Len() >= need:
			p.mu.Unlock()
			return nil
		case p.fatal != nil:
			err := p.fatal
			p.mu.Unlock()
			return err
		}
		ch, cause := p.changed, p.down
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("hsmrand: waiting for the first healthy HSM bytes: %w", ctx.Err())
		case <-timer.C:
			if cause == nil {
				cause = errors.New("the HSM is too slow")
			}
			return fmt.Errorf("%w within %v: %w", ErrUnavailable, p.deadline, cause)
		}
		p.mu.Lock()
	}
}

// waitChange waits until the stream's state changes, bytes arrive or the
// pool closes, or d passes. Installed readers use it to block without
// spinning.
func (p *pool) waitChange(d time.Duration) {
	p.mu.Lock()
	ch := p.changed
	p.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

// close stops the refiller, waits for it (and so for a request in flight)
// and wipes the buffers. Waiting readers return ErrClosed.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	p.signal()
	p.mu.Unlock()
	p.cancel()
	<-p.done
	p.mu.Lock()
	p.ring.Stop()
	p.ring.Wipe()
	clear(p.chunk)
	p.mu.Unlock()
}

// stats returns a copy of the counters.
func (p *pool) stats() poolCounters {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.st
	s.buffered = p.ring.Len()
	return s
}
