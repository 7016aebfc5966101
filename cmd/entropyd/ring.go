package main

import (
	"context"
	"sync"
	"time"
)

// ring holds a source's health-tested bytes until a feed takes them. Bytes
// taken, discarded or expired are zeroed. With a maximum age, no byte waits
// longer than it: a timer wipes the ring when its oldest bytes reach it, and
// take never hands out older ones.
type ring struct {
	mu      sync.Mutex
	buf     []byte
	r, n    int
	changed chan struct{} // closed and replaced on every change
	maxAge  time.Duration // 0: bytes never expire
	oldest  time.Time     // when the ring last went from empty to not; zero when empty
	timer   *time.Timer   // wipes the ring at maxAge; nil without one
	expired uint64
}

// newRing returns a ring of size bytes whose bytes expire after maxAge (0:
// never).
func newRing(size int, maxAge time.Duration) *ring {
	b := &ring{buf: make([]byte, size), changed: make(chan struct{}), maxAge: maxAge}
	if maxAge > 0 {
		b.timer = time.AfterFunc(time.Hour, b.expire)
		b.timer.Stop()
	}
	return b
}

// expire is the timer's function.
func (b *ring) expire() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expireLocked()
}

// expireLocked wipes the ring if its oldest bytes reached maxAge, or
// re-arms the timer for when they will; the caller holds mu.
func (b *ring) expireLocked() {
	if b.maxAge <= 0 || b.oldest.IsZero() {
		return
	}
	if left := b.maxAge - time.Since(b.oldest); left > 0 {
		b.timer.Reset(left)
		return
	}
	clear(b.buf)
	b.expired += uint64(b.n)
	b.r, b.n, b.oldest = 0, 0, time.Time{}
	b.signal()
}

// signal wakes the waiters; the caller holds mu.
func (b *ring) signal() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// put appends as much of p as fits and returns how much it took.
func (b *ring) put(p []byte) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := 0
	if b.n == 0 && len(p) > 0 && b.maxAge > 0 {
		b.oldest = time.Now()
		b.timer.Reset(b.maxAge)
	}
	for k < len(p) && b.n < len(b.buf) {
		w := (b.r + b.n) % len(b.buf)
		end := min(len(b.buf), w+len(b.buf)-b.n)
		c := copy(b.buf[w:end], p[k:])
		k += c
		b.n += c
	}
	if k > 0 {
		b.signal()
	}
	return k
}

// take moves len(p) bytes into p if the ring holds that many.
func (b *ring) take(p []byte) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expireLocked()
	if b.n < len(p) {
		return false
	}
	for k := 0; k < len(p); {
		end := min(len(b.buf), b.r+len(p)-k)
		c := copy(p[k:], b.buf[b.r:end])
		clear(b.buf[b.r:end])
		k += c
		b.r = (b.r + c) % len(b.buf)
		b.n -= c
	}
	if b.n == 0 {
		b.oldest = time.Time{}
	}
	b.signal()
	return true
}

// poke wakes the waiters without a change of content: takeWithin checks
// again whether its source is still alive.
func (b *ring) poke() {
	b.mu.Lock()
	b.signal()
	b.mu.Unlock()
}

// discard zeroes and drops every byte held.
func (b *ring) discard() {
	b.mu.Lock()
	clear(b.buf)
	b.r, b.n, b.oldest = 0, 0, time.Time{}
	b.signal()
	b.mu.Unlock()
}

// state returns the bytes held, the free space and a channel closed at the
// next change.
func (b *ring) state() (held, free int, changed <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n, len(b.buf) - b.n, b.changed
}

// waitFree waits until n bytes are free.
func (b *ring) waitFree(ctx context.Context, n int) error {
	for {
		_, free, ch := b.state()
		if free >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// takeWithin waits up to d for len(p) bytes and takes them.
func (b *ring) takeWithin(ctx context.Context, p []byte, d time.Duration, alive func() bool) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		if b.take(p) {
			return true
		}
		if !alive() {
			return false
		}
		_, _, ch := b.state()
		if b.take(p) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return false
		case <-ch:
		}
	}
}
