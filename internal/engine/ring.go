package engine

import (
	"context"
	"sync"
	"time"

	"github.com/hsmentropy/hsmentropy/internal/refill"
)

// ring holds a source's health-tested bytes until a feed takes them, in a
// refill.Ring: bytes taken, discarded or expired are zeroed, and with a
// maximum age no byte waits longer than it. It adds the lock, and a channel
// that feeds and the worker wait on.
type ring struct {
	mu      sync.Mutex
	r       *refill.Ring
	changed chan struct{} // closed and replaced on every change
	expired uint64
}

// newRing returns a ring of size bytes whose bytes expire after maxAge (0:
// never).
func newRing(size int, maxAge time.Duration) *ring {
	b := &ring{changed: make(chan struct{})}
	b.r = refill.NewRing(size, maxAge, b.expire)
	return b
}

// expire is the age timer's function.
func (b *ring) expire() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expireLocked()
}

// expireLocked wipes the ring if its oldest bytes reached the maximum age;
// the caller holds mu.
func (b *ring) expireLocked() {
	if k := b.r.Expire(); k > 0 {
		b.expired += uint64(k)
		b.signal()
	}
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
	k := b.r.Put(p)
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
	if b.r.Len() < len(p) {
		return false
	}
	b.r.Take(p)
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
	b.r.Wipe()
	b.signal()
	b.mu.Unlock()
}

// state returns the bytes held, the free space and a channel closed at the
// next change.
func (b *ring) state() (held, free int, changed <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.r.Len(), b.r.Free(), b.changed
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
