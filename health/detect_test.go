package health

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStuckByte: a constant byte under DefaultHSMConfig. Prediction: the
// RCT fails intermittently at the C = 9th sample (offset 8) and at the 10th,
// and the 11th is the third intermittent failure in the period, permanent.
// Without PermanentAfter the permanent cutoff 17 ends it at offset 16.
func TestStuckByte(t *testing.T) {
	cfg := DefaultHSMConfig()
	tr := newTester(t, cfg)
	c := tr.Stats().RCT
	fs := feed(t, tr, make([]byte, 1<<16))
	last := c.Cutoff + cfg.PermanentAfter - 1 // 11
	if assert.Len(t, fs, cfg.PermanentAfter, "failures") {
		assert.Equal(t, int64(c.Cutoff-1), fs[0].Offset, "first failure %+v", fs[0])
		assert.Equal(t, Intermittent, fs[0].Kind, "first failure %+v", fs[0])
		l := fs[len(fs)-1]
		assert.Equal(t, int64(last-1), l.Offset, "last failure %+v", l)
		assert.True(t, l.Escalated, "last failure %+v: want escalated", l)
		assert.Equal(t, last, l.Count, "last failure %+v", l)
	}

	cfg.PermanentAfter = 0
	tr = newTester(t, cfg)
	fs = feed(t, tr, make([]byte, 1<<16))
	if assert.Len(t, fs, c.PermanentCutoff-c.Cutoff+1, "failures") {
		f := fs[len(fs)-1]
		assert.Equal(t, Permanent, f.Kind, "last failure %+v", f)
		assert.False(t, f.Escalated, "last failure %+v: want the permanent cutoff, not escalation", f)
		assert.Equal(t, int64(c.PermanentCutoff-1), f.Offset, "last failure %+v", f)
	}
}

// TestStuckBit: a binary source (H = 1, W = 1024, default alphas) stuck at
// 1. Prediction: RCT cutoffs 1 + 30/1 = 31 and 1 + 60/1 = 61, so the first
// failure is at offset 30 and the permanent one at offset 60, before the
// APT (cutoff 609) could fail.
func TestStuckBit(t *testing.T) {
	tr := newTester(t, Config{MinEntropy: 1, BitsPerSample: 1})
	stream := make([]byte, 4096)
	for i := range stream {
		stream[i] = 0xff // only the low bit is a sample
	}
	fs := feed(t, tr, stream)
	if assert.Len(t, fs, 31, "failures: want RCT from offset 30 to a permanent one at 60") {
		assert.Equal(t, int64(30), fs[0].Offset, "first failure %+v", fs[0])
		assert.Equal(t, RCT, fs[0].Test, "first failure %+v", fs[0])
		assert.Equal(t, int64(60), fs[30].Offset, "last failure %+v", fs[30])
		assert.Equal(t, Permanent, fs[30].Kind, "last failure %+v", fs[30])
	}
}

// TestOneBitVaries: 8-bit samples with seven bits stuck and one random bit,
// so 1 bit of min-entropy per byte where DefaultHSMConfig claims 8. In every
// window the first sample's value comes with probability 1/2, so the APT
// count reaches 26 within the window's first 100 samples but with
// probability P[Binomial(99, 1/2) < 25] < 2^-20; the RCT (9 equal bytes,
// probability 2^-8 at each sample) may fail first. Prediction: a failure
// within the first 100 samples.
func TestOneBitVaries(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	stream := make([]byte, 1<<16)
	for i := range stream {
		stream[i] = 0x5a | byte(rng.IntN(2))
	}
	tr := newTester(t, DefaultHSMConfig())
	fs := feed(t, tr, stream)
	require.NotEmpty(t, fs, "want a failure before offset 100")
	require.Less(t, fs[0].Offset, int64(100), "first failure %+v", fs[0])
	assert.Equal(t, Permanent, fs[len(fs)-1].Kind, "no permanent failure in %d samples: %+v", len(stream), fs)
}

// TestRepeatingBlock: a block of L distinct bytes repeated. The RCT never
// sees a repeat; in the first window the first sample's value comes every L
// samples, so the APT reaches its cutoff C = 26 (DefaultHSMConfig) at offset
// (C-1)·L when that is inside the window, that is for L ≤ (W-1)/(C-1) = 20.
// A block of 21 puts at most ceil(512/21) = 25 copies in a window: the
// tests cannot see it (documented).
func TestRepeatingBlock(t *testing.T) {
	tr := newTester(t, DefaultHSMConfig())
	c, w := tr.Stats().APT.Cutoff, tr.Config().Window
	limit := (w - 1) / (c - 1)
	for _, l := range []int{2, 3, 7, 16, limit, limit + 1} {
		block := cycle(l, 0x30, 256)
		stream := make([]byte, 1<<16)
		for i := range stream {
			stream[i] = block[i%l]
		}
		tr := newTester(t, DefaultHSMConfig())
		fs := feed(t, tr, stream)
		if l > limit {
			assert.Empty(t, fs, "block of %d: want no failure", l)
			continue
		}
		if assert.NotEmpty(t, fs, "block of %d: want an APT failure at offset %d", l, (c-1)*l) {
			assert.Equal(t, APT, fs[0].Test, "block of %d: first failure %+v", l, fs[0])
			assert.Equal(t, int64((c-1)*l), fs[0].Offset, "block of %d: first failure %+v", l, fs[0])
		}
	}
}

// TestBiasedByte: every other byte is 0 (the others random, nonzero), so
// 0 has probability about 1/2 where DefaultHSMConfig claims 2^-8. The first
// window starts with 0, which reaches the APT cutoff 26 at the window's
// sample 2·(26-1) = offset 50. A byte that is 0 with probability 1/2 at
// random fails in the first window that starts with 0: with probability
// 1 - 2^-64 within 64 windows.
func TestBiasedByte(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	stream := make([]byte, 1<<16)
	for i := 1; i < len(stream); i += 2 {
		stream[i] = byte(1 + rng.IntN(255))
	}
	tr := newTester(t, DefaultHSMConfig())
	c := tr.Stats().APT.Cutoff
	fs := feed(t, tr, stream)
	if assert.NotEmpty(t, fs, "alternating zeros: want APT at offset %d", 2*(c-1)) {
		assert.Equal(t, APT, fs[0].Test, "alternating zeros: first failure %+v", fs[0])
		assert.Equal(t, int64(2*(c-1)), fs[0].Offset, "alternating zeros: first failure %+v", fs[0])
	}

	for i := range stream {
		stream[i] = 0
		if rng.IntN(2) == 0 {
			stream[i] = byte(rng.Uint32())
		}
	}
	tr = newTester(t, DefaultHSMConfig())
	fs = feed(t, tr, stream)
	if assert.NotEmpty(t, fs, "zero with probability 1/2: want a failure within 64 windows") {
		assert.Less(t, fs[0].Offset, 64*int64(tr.Config().Window), "zero with probability 1/2: first failure %+v, want one within 64 windows", fs[0])
	}
}

// TestLostBit documents a limit: a byte source with one bit stuck (7 bits
// of min-entropy where 8 are claimed) passes DefaultHSMConfig. Its RCT
// false-alarm probability per sample is 2^-56, and the APT count of a
// window's first value averages 4 against a cutoff of 26.
func TestLostBit(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	stream := make([]byte, 1<<20)
	for i := range stream {
		stream[i] = byte(rng.Uint32()) &^ 0x80
	}
	tr := newTester(t, DefaultHSMConfig())
	assert.Empty(t, feed(t, tr, stream), "a lost bit was expected to go unseen")
}
