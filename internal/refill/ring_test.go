package refill

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A ring hands bytes out once, oldest first, across its wrap-around, and
// zeroes every byte that leaves it.
func TestRing(t *testing.T) {
	r := NewRing(8, 0, nil)
	require.Equal(t, 6, r.Put([]byte("abcdef")))
	got := make([]byte, 4)
	require.Equal(t, 4, r.Take(got))
	assert.Equal(t, "abcd", string(got))
	assert.True(t, r.Zeroed(), "taken bytes not zeroed")
	require.Equal(t, 6, r.Put([]byte("ghijklmn")), "a ring of 8 holding 2 takes 6") // wraps around
	assert.Equal(t, 0, r.Free())
	got = make([]byte, 10)
	require.Equal(t, 8, r.Take(got), "Take moves what there is")
	assert.Equal(t, "efghijkl", string(got[:8]))
	assert.Equal(t, 0, r.Take(make([]byte, 1)))
	assert.True(t, r.Zeroed())
	assert.Equal(t, make([]byte, 8), r.buf)

	r.Put([]byte("xyz"))
	assert.Equal(t, 3, r.Wipe())
	assert.Equal(t, 0, r.Len())
	assert.Equal(t, make([]byte, 8), r.buf, "Wipe left bytes")
}

// With a maximum age, the timer's function wipes the ring when its oldest
// bytes reach it, with no Take needed; fresh bytes are kept.
func TestRingMaxAge(t *testing.T) {
	var mu sync.Mutex
	var r *Ring
	expired := 0
	mu.Lock()
	r = NewRing(64, 30*time.Millisecond, func() {
		mu.Lock()
		defer mu.Unlock()
		expired += r.Expire()
	})
	r.Put(make([]byte, 48))
	for i := range 48 {
		r.buf[i] = byte(i + 1) // non-zero: the wipe must show
	}
	assert.Equal(t, 0, r.Expire(), "fresh bytes expired")
	mu.Unlock()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return r.Len() == 0
	}, 10*time.Second, time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 48, expired)
	assert.Equal(t, make([]byte, 64), r.buf, "expired bytes are zeroed")
	r.Put(make([]byte, 8))
	assert.Equal(t, 8, r.Take(make([]byte, 8)), "fresh bytes after an expiry are served")
	r.Stop()
}

func TestSleep(t *testing.T) {
	assert.True(t, Sleep(t.Context(), time.Millisecond))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	assert.False(t, Sleep(ctx, time.Hour))
}
