package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Bytes wait in a ring at most its maximum age: the timer wipes them when
// they reach it, with no take needed, and take never hands out older ones.
func TestRingMaxAge(t *testing.T) {
	r := newRing(64, 30*time.Millisecond)
	r.put([]byte("0123456789abcdef0123456789abcdef0123456789abcdef"))
	held, _, _ := r.state()
	require.Equal(t, 48, held)
	require.Eventually(t, func() bool { h, _, _ := r.state(); return h == 0 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, make([]byte, 64), r.buf, "expired bytes are zeroed")
	assert.False(t, r.take(make([]byte, 1)))

	// Fresh bytes are served.
	r.put(make([]byte, 8))
	assert.True(t, r.take(make([]byte, 8)))
}

// A waiting feed gives up at once when its source stops being healthy,
// not at the end of its timeout.
func TestTakeWithinWakesOnStateChange(t *testing.T) {
	events := make(chan event, 8)
	s, err := newSource("test", nil, 48, 0, 0, 0, slog.New(slog.DiscardHandler), events)
	require.NoError(t, err)
	s.setState(stateHealthy)
	alive := func() bool { return s.getState() == stateHealthy }
	go func() {
		time.Sleep(20 * time.Millisecond)
		s.setState(stateReconnecting)
	}()
	start := time.Now()
	assert.False(t, s.ready.takeWithin(context.Background(), make([]byte, 48), time.Minute, alive))
	assert.Less(t, time.Since(start), 30*time.Second, "the feed waited out its timeout for a source that went down")
}

// The credit a feed may give rests on the strongest contributor's input
// drawn for it: 48 bytes of a raw source are worth 48 bytes; 48 bytes of
// a PKCS#11 source read in 1024-byte reads rest on 48 × 48/1024 HSM
// bytes; the XOR of both is worth the stronger, never the sum.
func TestPrimaryCreditable(t *testing.T) {
	newSrc := func(name string, perByte float64) *source {
		s, err := newSource(name, nil, 48, 0, 0, 0, slog.New(slog.DiscardHandler), make(chan event, 8))
		require.NoError(t, err)
		s.inputPerByte = perByte
		s.setState(stateHealthy)
		return s
	}
	raw, hsm := newSrc("raw", 1), newSrc("pkcs11", 48.0/1024)
	for _, tc := range []struct {
		name    string
		sources []*source
		want    float64
	}{
		{"raw", []*source{raw}, 48},
		{"hsm read in 1 KiB reads", []*source{hsm}, 48 * 48.0 / 1024},
		{"both: the stronger", []*source{raw, hsm}, 48},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range tc.sources {
				s.ready.put(make([]byte, 48))
			}
			p := &primary{ctx: context.Background(), sources: tc.sources, timeout: time.Second}
			_, err := p.Read(make([]byte, 48))
			require.NoError(t, err)
			assert.InDelta(t, tc.want, p.creditable, 1e-9)
			assert.Len(t, p.contributors, len(tc.sources))
		})
	}
	// 48 HSM bytes at 6 bits each: 288 bits, whatever the feed's length.
	assert.Equal(t, 288, creditLimit(48, 6))
	assert.Equal(t, 0, creditLimit(0, 6))
}
