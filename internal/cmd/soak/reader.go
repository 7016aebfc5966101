package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hsmentropy/hsmentropy/hsmrand"
)

// seen holds the first 16 bytes of the recent 32-byte reads in two
// generations of at most window entries each: a read is checked against the
// last window to 2*window reads, in bounded memory.
type seen struct {
	mu          sync.Mutex
	window      int
	cur, old    map[[16]byte]struct{}
	total, dups uint64
	first       [16]byte // the first repeat
}

func newSeen(window int) *seen {
	return &seen{window: window, cur: make(map[[16]byte]struct{}), old: map[[16]byte]struct{}{}}
}

// add records a read and reports whether its prefix was seen before.
func (s *seen) add(b []byte) {
	k := [16]byte(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total++
	_, a := s.cur[k]
	_, o := s.old[k]
	if a || o {
		if s.dups == 0 {
			s.first = k
		}
		s.dups++
		return
	}
	if len(s.cur) >= s.window {
		s.old, s.cur = s.cur, make(map[[16]byte]struct{}, s.window)
	}
	s.cur[k] = struct{}{}
}

func (s *seen) counts() (total, dups uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total, s.dups
}

// readers are the goroutines that read through r until ctx is done.
type readers struct {
	wg     sync.WaitGroup
	errs   atomic.Uint64
	bytes  atomic.Uint64
	seen   *seen
	errMu  sync.Mutex
	lastEr error
}

// readPause paces each 32-byte reader, so that the soak takes a small share
// of a shared machine: 16 readers make about 3,000 reads a second.
const readPause = 5 * time.Millisecond

func startReaders(ctx context.Context, r *hsmrand.Reader, n, window int) *readers {
	rs := &readers{seen: newSeen(window)}
	read := func(buf []byte) bool {
		_, err := r.Read(buf)
		if err != nil {
			rs.errs.Add(1)
			rs.errMu.Lock()
			rs.lastEr = err
			rs.errMu.Unlock()
			return false
		}
		rs.bytes.Add(uint64(len(buf)))
		return true
	}
	for range n {
		rs.wg.Go(func() {
			var buf [32]byte
			every(ctx, readPause, func() {
				if read(buf[:]) {
					rs.seen.add(buf[:])
				}
				clear(buf[:])
			})
		})
	}
	// One bulk reader draws 64 KiB ten times a second, so that the Reader's
	// shards reseed, and its refiller calls the token, several times a second.
	rs.wg.Go(func() {
		buf := make([]byte, 64<<10)
		every(ctx, 100*time.Millisecond, func() {
			read(buf)
			clear(buf)
		})
	})
	return rs
}

func (rs *readers) lastErr() error {
	rs.errMu.Lock()
	defer rs.errMu.Unlock()
	return rs.lastEr
}

// every calls f every d until ctx is done.
func every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}
