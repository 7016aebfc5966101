package refill

import "time"

// Ring is a fixed-size FIFO of secret bytes. Bytes taken, wiped or expired
// are zeroed: every byte outside the unread ones is zero. With a maximum
// age no byte waits longer than it: a timer wipes the ring when its oldest
// bytes reach it.
//
// A Ring is not safe for concurrent use: its owner guards it with its own
// lock, which the expire function given to NewRing takes too.
type Ring struct {
	buf     []byte // buf[head:], then buf[:...]: n bytes unread
	head, n int
	maxAge  time.Duration // 0: bytes never expire
	oldest  time.Time     // when the ring last went from empty to not; zero when empty
	timer   *time.Timer   // runs expire at maxAge; nil without one
}

// NewRing returns a Ring of size bytes whose bytes expire after maxAge (0:
// never). With maxAge > 0, expire runs on a timer's goroutine when the
// oldest bytes may have reached it: it takes the owner's lock and calls
// Expire.
func NewRing(size int, maxAge time.Duration, expire func()) *Ring {
	r := &Ring{buf: make([]byte, size), maxAge: maxAge}
	if maxAge > 0 {
		r.timer = time.AfterFunc(time.Hour, expire)
		r.timer.Stop()
	}
	return r
}

// Len returns the bytes held.
func (r *Ring) Len() int { return r.n }

// Cap returns the ring's size.
func (r *Ring) Cap() int { return len(r.buf) }

// Free returns the room left.
func (r *Ring) Free() int { return len(r.buf) - r.n }

// Put appends as much of p as fits and returns how much it took.
func (r *Ring) Put(p []byte) int {
	if r.n == 0 && len(p) > 0 && len(r.buf) > 0 {
		r.oldest = time.Now()
		if r.timer != nil {
			r.timer.Reset(r.maxAge)
		}
	}
	k := 0
	for k < len(p) && r.n < len(r.buf) {
		tail := (r.head + r.n) % len(r.buf)
		end := len(r.buf)
		if tail < r.head {
			end = r.head
		}
		c := copy(r.buf[tail:end], p[k:])
		k += c
		r.n += c
	}
	return k
}

// Take moves min(len(p), Len()) bytes into p, oldest first, zeroes them in
// the ring and returns how many it moved.
func (r *Ring) Take(p []byte) int {
	k := 0
	for k < len(p) && r.n > 0 {
		seg := r.buf[r.head:min(r.head+r.n, len(r.buf))]
		c := copy(p[k:], seg)
		clear(seg[:c])
		k += c
		r.head = (r.head + c) % len(r.buf)
		r.n -= c
	}
	if r.n == 0 {
		r.oldest = time.Time{}
	}
	return k
}

// Expire wipes the ring if its oldest bytes have reached the maximum age,
// and returns how many bytes it wiped; else it re-arms the timer for when
// they will have, and returns 0.
func (r *Ring) Expire() int {
	if r.maxAge <= 0 || r.oldest.IsZero() {
		return 0
	}
	if left := r.maxAge - time.Since(r.oldest); left > 0 {
		r.timer.Reset(left)
		return 0
	}
	return r.Wipe()
}

// Wipe zeroes and drops every byte held and returns how many there were.
func (r *Ring) Wipe() int {
	n := r.n
	clear(r.buf)
	r.head, r.n, r.oldest = 0, 0, time.Time{}
	return n
}

// Stop stops the age timer.
func (r *Ring) Stop() {
	if r.timer != nil {
		r.timer.Stop()
	}
}

// Zeroed reports whether every byte outside the unread ones is zero, the
// Ring's invariant; tests check it.
func (r *Ring) Zeroed() bool {
	for i, b := range r.buf {
		unread := (i-r.head+len(r.buf))%len(r.buf) < r.n
		if !unread && b != 0 {
			return false
		}
	}
	return true
}
