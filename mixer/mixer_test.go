package mixer

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigValidation(t *testing.T) {
	p := newMXSource("P", nil)
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no primary", Config{}, "Primary is nil"},
		{"negative shards", Config{Primary: p, Shards: -1}, "Shards is -1"},
		{"too many shards", Config{Primary: p, Shards: MaxShards + 1}, "Shards is 65"},
		{"tiny buffer", Config{Primary: p, BufferSize: BlockLen - 1}, "BufferSize is 15"},
		{"huge buffer", Config{Primary: p, BufferSize: MaxRequest + 1}, "BufferSize is 65537"},
	} {
		_, err := New(c.cfg)
		if assert.ErrorContains(t, err, c.want, "%s: New", c.name) {
			assert.True(t, strings.HasPrefix(err.Error(), "mixer: "), "%s: New error %v, want a mixer: error", c.name, err)
		}
	}
	_, consumed := p.stats()
	assert.Zero(t, consumed, "invalid configs read bytes from the primary")

	// The defaults land in the Mixer, not in the caller's Config.
	cfg := Config{Primary: p}
	m := newTestMixer(t, cfg)
	assert.Equal(t, Config{Primary: p}, cfg, "New modified the caller's Config")
	assert.Equal(t, DefaultBufferSize, m.cfg.bufferSize, "default BufferSize")
	assert.Equal(t, DefaultReseedInterval, m.cfg.reseedInterval, "default ReseedInterval")
	assert.Equal(t, uint64(DefaultReseedBytes), m.cfg.reseedBytes, "default ReseedBytes")
	assert.Equal(t, uint64(DefaultReseedCalls), m.cfg.reseedCalls, "default ReseedCalls")
	assert.GreaterOrEqual(t, len(m.shards), 1, "default Shards")
	assert.LessOrEqual(t, len(m.shards), MaxShards, "default Shards")
}

func TestShardPadding(t *testing.T) {
	size := unsafe.Sizeof(shard{})
	assert.Zero(t, size%cacheLine, "shard is %d bytes, not a multiple of %d", size, cacheLine)
}

// TestConstruction pins the construction documented in the package doc to
// a plain sequence of NewCTR and Generate calls, through the buffered
// path (default BufferSize) and the direct path (a 1 MiB read).
func TestConstruction(t *testing.T) {
	m := newTestMixer(t, Config{Primary: newMXSource("P", nil), OS: newMXSource("O", nil), Shards: 1})
	first, second := mxRead(t, m, 32), mxRead(t, m, 32)
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = 0xa5 // Generate must overwrite, not XOR into, the caller's bytes
	}
	_, err := m.Read(big)
	require.NoError(t, err)
	third := mxRead(t, m, 32)

	// Instantiate: entropy input P[0:48], personalization string O[0:48].
	d, err := NewCTR(mxStream("P", 0, SeedLen), nil, mxStream("O", 0, SeedLen), false)
	require.NoError(t, err)
	osOff := uint64(SeedLen)
	generate := func(n int) []byte {
		out := make([]byte, n)
		require.NoError(t, d.Generate(out, mxStream("O", osOff, SeedLen)))
		osOff += SeedLen
		return out
	}
	buf := generate(DefaultBufferSize)
	var wantBig []byte
	for range (1 << 20) / MaxRequest {
		wantBig = append(wantBig, generate(MaxRequest)...)
	}
	for i, got := range [][]byte{first, second, third} {
		assert.Equal(t, buf[32*i:32*(i+1)], got, "small read %d differs from the buffer of Generate(%d bytes, O[48:96])", i, DefaultBufferSize)
	}
	assert.Equal(t, wantBig, big, "1 MiB read differs from 16 Generate(64 KiB, fresh O) requests")
	st := m.Stats()
	assert.Equal(t, uint64(17), st.Generates, "Stats = %+v", st)
	assert.Zero(t, st.Reseeds, "Stats = %+v", st)
	assert.Equal(t, uint64(4), st.Reads, "Stats = %+v", st)
	assert.Equal(t, uint64(96+1<<20), st.BytesServed, "Stats = %+v", st)
}

func TestPrimaryBeforeOS(t *testing.T) {
	var log mxLog
	m := newTestMixer(t, Config{
		Primary: newMXSource("P", &log), OS: newMXSource("O", &log),
		Shards: 2, ReseedCalls: 1, BufferSize: 64,
	})
	require.Equal(t, "POPO", log.sources(), "New's reads: want primary then OS, per shard")
	for range 20 {
		mxRead(t, m, 64)
		mxRead(t, m, 10)
	}
	// Each request is an additional input (O), preceded when the shard
	// is due by a reseed (PO); every P is followed by its O.
	got := log.sources()
	assert.Regexp(t, `^POPO(O|POO)+$`, got, "read sequence")
	st := m.Stats()
	assert.Equal(t, strings.Count(got, "P")-2, int(st.Reseeds), "Stats.Reseeds against the primary reads after New")
	assert.GreaterOrEqual(t, st.Reseeds, uint64(18), "Stats.Reseeds")

	// Prediction resistance: per request one reseed (P then O) and no
	// additional input of its own.
	log.events = nil
	for _, n := range []int{32, 32, MaxRequest + 1} {
		_, err := m.ReadPR(make([]byte, n))
		require.NoError(t, err)
	}
	assert.Equal(t, "POPOPOPO", log.sources(), "reads of ReadPR(32), ReadPR(32), ReadPR(MaxRequest+1)")
}

// TestDistinctPrimaryBytes checks that every seeding of every shard
// consumes its own fresh primary bytes, also under concurrent reseeds:
// the primary stream holds no repeated 48-byte block, and the bytes read
// equal 48 per instantiation and reseed.
func TestDistinctPrimaryBytes(t *testing.T) {
	var log mxLog
	primary := newMXSource("P", &log)
	const shards = 8
	m := newTestMixer(t, Config{Primary: primary, Shards: shards, ReseedCalls: 1, BufferSize: 64})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			p := make([]byte, 64)
			for range 100 {
				if _, err := m.Read(p); err != nil {
					assert.NoError(t, err) // assert, not require: not the test's goroutine
					return
				}
			}
		})
	}
	wg.Wait()
	st := m.Stats()
	_, consumed := primary.stats()
	assert.Equal(t, SeedLen*(shards+st.Reseeds), consumed, "primary bytes for %d instantiations and %d reseeds", shards, st.Reseeds)
	seen := map[string]bool{}
	for _, e := range log.events {
		require.Len(t, e.data, SeedLen, "primary read")
		require.False(t, seen[string(e.data)], "repeated primary read %x", e.data)
		seen[string(e.data)] = true
	}
	assert.Len(t, seen, shards+int(st.Reseeds), "distinct primary reads")
	assert.GreaterOrEqual(t, st.Reseeds, uint64(700), "reseeds")
}

// TestOutputDependsOnBothSources checks that changing either source alone
// changes the output, and that no primary bytes appear in the output.
func TestOutputDependsOnBothSources(t *testing.T) {
	out := func(p, o string) []byte {
		m := newTestMixer(t, Config{Primary: newMXSource(p, nil), OS: newMXSource(o, nil), Shards: 1, ReseedCalls: 1})
		return append(mxRead(t, m, 32), mxRead(t, m, 1<<20)...)
	}
	base := out("P", "O")
	require.Equal(t, base, out("P", "O"), "identical sources give different output")
	assert.NotEqual(t, base[:32], out("P", "O2")[:32], "output does not depend on the OS source")
	assert.NotEqual(t, base[:32], out("P2", "O")[:32], "output does not depend on the primary source")
	// One instantiation and 16 reseeds consumed 17 × 48 primary bytes.
	primary := mxStream("P", 0, 17*SeedLen)
	for i := 0; i+BlockLen <= len(primary); i += BlockLen / 2 {
		require.False(t, bytes.Contains(base, primary[i:i+BlockLen]), "output contains primary bytes %d-%d", i, i+BlockLen)
	}
}

func TestServedBytesWiped(t *testing.T) {
	m := newTestMixer(t, Config{Primary: newMXSource("P", nil), Shards: 1, BufferSize: 1024})
	s := &m.shards[0]
	zero := make([]byte, 1024)
	mxRead(t, m, 100)
	checkServedWiped(t, s, 100, "after reading 100 bytes")
	// 924 bytes from this buffer, 76 from a refill.
	mxRead(t, m, 1000)
	checkServedWiped(t, s, 76, "across a refill")
	m.Close()
	assert.Equal(t, zero, s.buf, "Close left buffer bytes behind")
	assert.Nil(t, s.drbg, "Close left the DRBG behind")
	assert.Equal(t, [SeedLen]byte{}, s.entropy, "Close left the entropy input behind")
	assert.Equal(t, [SeedLen]byte{}, s.input, "Close left the OS input behind")
}

// checkServedWiped checks that the shard's buffer is at off, its served
// bytes zero and the rest not all zero.
func checkServedWiped(t *testing.T, s *shard, off int, when string) {
	t.Helper()
	zero := make([]byte, len(s.buf))
	assert.Equal(t, off, s.off, "%s: buffer offset", when)
	assert.Equal(t, zero[:off], s.buf[:off], "%s: served bytes not wiped", when)
	assert.NotEqual(t, zero[off:], s.buf[off:], "%s: unserved bytes all zero", when)
}

func TestClose(t *testing.T) {
	m := newTestMixer(t, Config{Primary: newMXSource("P", nil), Shards: 2})
	mxRead(t, m, 32)
	require.NoError(t, m.Close())
	require.NoError(t, m.Close())
	for _, n := range []int{32, 1 << 20} {
		got, err := m.Read(make([]byte, n))
		assert.Zero(t, got, "Read(%d) after Close", n)
		assert.ErrorIs(t, err, ErrClosed, "Read(%d) after Close", n)
		got, err = m.ReadPR(make([]byte, n))
		assert.Zero(t, got, "ReadPR(%d) after Close", n)
		assert.ErrorIs(t, err, ErrClosed, "ReadPR(%d) after Close", n)
	}
	st := m.Stats()
	assert.Zero(t, st.ReadErrors, "ErrClosed counted as a read error: %+v", st)
}

// TestConcurrentReads reads from many goroutines (run it with -race):
// no 32-byte output repeats, and the counters add up.
func TestConcurrentReads(t *testing.T) {
	m := newTestMixer(t, Config{Primary: newMXSource("P", nil), Shards: 4, BufferSize: 1024, ReseedCalls: 8})
	const goroutines, reads = 16, 400
	outs := make([][][32]byte, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range reads {
				var p [32]byte
				var err error
				if i%50 == 0 {
					_, err = m.ReadPR(p[:])
				} else {
					_, err = m.Read(p[:])
				}
				if err != nil {
					assert.NoError(t, err) // assert, not require: not the test's goroutine
					return
				}
				outs[g] = append(outs[g], p)
			}
			_, err := m.Read(make([]byte, 3000))
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	seen := make(map[[32]byte]bool, goroutines*reads)
	for _, o := range outs {
		for _, p := range o {
			require.False(t, seen[p], "repeated output %x", p)
			seen[p] = true
		}
	}
	st := m.Stats()
	assert.Equal(t, uint64(goroutines*(reads+1)), st.Reads, "Stats %+v", st)
	assert.Equal(t, uint64(goroutines*(reads*32+3000)), st.BytesServed, "Stats %+v", st)
}

// TestConcurrentClose closes the Mixer under concurrent reads: every read
// either succeeds or returns ErrClosed.
func TestConcurrentClose(t *testing.T) {
	m := newTestMixer(t, Config{Primary: newMXSource("P", nil), Shards: 2, BufferSize: 256})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			p := make([]byte, 32+g*100)
			for {
				_, err := m.Read(p)
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					assert.NoError(t, err) // assert, not require: not the test's goroutine
					return
				}
			}
		})
	}
	time.Sleep(10 * time.Millisecond)
	m.Close()
	wg.Wait()
}

// TestReadAllocations requires reads served from the buffer to allocate
// nothing, and Generate requests to allocate no more than CTR.Generate
// itself does (3 per request with additional input, see its doc).
func TestReadAllocations(t *testing.T) {
	m := newTestMixer(t, Config{Primary: newMXSource("P", nil), Shards: 1, BufferSize: MaxRequest})
	p := make([]byte, 32)
	mxRead(t, m, 32)
	// 100 × 32 bytes stay within the 64 KiB buffer.
	assert.Zero(t, testing.AllocsPerRun(100, func() { m.Read(p) }), "32-byte Read from the buffer: allocations")
	for _, c := range []struct {
		n   int
		max float64
	}{{MaxRequest, 3}, {1 << 20, 3 * (1 << 20) / MaxRequest}} {
		big := make([]byte, c.n)
		allocs := testing.AllocsPerRun(5, func() { m.Read(big) })
		t.Logf("Read(%d bytes): %v allocations", c.n, allocs)
		assert.LessOrEqual(t, allocs, c.max, "Read(%d bytes): allocations", c.n)
	}
}

// TestStatsBusyShard checks that Stats does not wait for a locked shard
// and then reports its counters as of its last Generate request.
func TestStatsBusyShard(t *testing.T) {
	m := newTestMixer(t, Config{Primary: newMXSource("P", nil), Shards: 1, BufferSize: 64})
	s := &m.shards[0]
	mxRead(t, m, 32) // refill (publishes 0 reads), then the read
	mxRead(t, m, 64) // a direct request (publishes 1 read), then the read
	s.mu.Lock()
	busy := m.Stats()
	s.mu.Unlock()
	idle := m.Stats()
	assert.Equal(t, uint64(1), busy.Reads, "busy Stats %+v", busy)
	assert.Equal(t, uint64(32), busy.BytesServed, "busy Stats %+v", busy)
	assert.Equal(t, uint64(2), idle.Reads, "idle Stats %+v", idle)
	assert.Equal(t, uint64(96), idle.BytesServed, "idle Stats %+v", idle)
}
