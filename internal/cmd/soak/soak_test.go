package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestSeen: a repeat is found within the last window reads and in the
// generation before, and forgotten after two windows (bounded memory).
func TestSeen(t *testing.T) {
	read := func(i byte) []byte {
		b := make([]byte, 32)
		b[0], b[31] = i, 0xff
		return b
	}
	s := newSeen(4)
	for i := range byte(6) {
		s.add(read(i))
	}
	_, dups := s.counts()
	assert.Zero(t, dups, "six different reads")
	s.add(read(5))
	s.add(read(1)) // in the previous generation
	total, dups := s.counts()
	assert.Equal(t, uint64(8), total)
	assert.Equal(t, uint64(2), dups, "repeats in the current and previous generation")
	assert.Equal(t, [16]byte(read(5)), s.first)
	for i := range byte(10) {
		s.add(read(100 + i))
	}
	s.add(read(0))
	_, dups = s.counts()
	assert.Equal(t, uint64(2), dups, "a read more than two windows back is forgotten")
	assert.LessOrEqual(t, len(s.cur)+len(s.old), 2*s.window)
}

// TestCheckGrowth: each figure is held to its own bound, at the bound and
// one past it.
func TestCheckGrowth(t *testing.T) {
	start := figures{RSS: 20 << 20, Anon: 6 << 20, Heap: 1 << 19, Goroutines: 8, Threads: 8, FDs: 13}
	atBounds := start
	atBounds.Anon += maxAnonGrowth
	atBounds.Heap += maxHeapGrowth
	atBounds.Goroutines += maxGoroutineGrowth
	atBounds.Threads += maxThreadGrowth
	atBounds.FDs += maxFDGrowth
	atBounds.RSS += 100 << 20 // not bounded: file pages
	assert.NoError(t, checkGrowth(start, atBounds))
	for name, past := range map[string]func(*figures){
		"anonymous": func(f *figures) { f.Anon += 1 << 10 },
		"heap":      func(f *figures) { f.Heap += 1 << 10 },
		"goroutine": func(f *figures) { f.Goroutines++ },
		"threads":   func(f *figures) { f.Threads++ },
		"desc":      func(f *figures) { f.FDs++ },
	} {
		end := atBounds
		past(&end)
		err := checkGrowth(start, end)
		if assert.Error(t, err, name) {
			assert.Contains(t, err.Error(), name)
		}
	}
}

func TestMetric(t *testing.T) {
	body := "# HELP x\nentropyd_feeds_total{result=\"ok\"} 12\nentropyd_feeds_total{result=\"error\"} 0\n"
	v, ok := metric(body, `entropyd_feeds_total{result="ok"}`)
	assert.True(t, ok)
	assert.Equal(t, 12.0, v)
	_, ok = metric(body, `entropyd_feeds_os_only_total`)
	assert.False(t, ok)
}
