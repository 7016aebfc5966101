package mixer

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"
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
		if _, err := New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "mixer: ") {
			t.Errorf("%s: New error %v, want one containing %q", c.name, err, c.want)
		}
	}
	if _, calls := p.stats(); calls != 0 {
		t.Errorf("invalid configs read the primary %d times", calls)
	}

	// The defaults land in the Mixer, not in the caller's Config.
	cfg := Config{Primary: p}
	m := newTestMixer(t, cfg)
	if cfg.OS != nil || cfg.Shards != 0 || cfg.BufferSize != 0 || cfg.ReseedInterval != 0 ||
		cfg.ReseedBytes != 0 || cfg.ReseedCalls != 0 || cfg.OnPrimaryError != nil {
		t.Errorf("New modified the caller's Config: %+v", cfg)
	}
	if m.cfg.bufferSize != DefaultBufferSize || m.cfg.reseedInterval != DefaultReseedInterval ||
		m.cfg.reseedBytes != DefaultReseedBytes || m.cfg.reseedCalls != DefaultReseedCalls ||
		len(m.shards) < 1 || len(m.shards) > MaxShards {
		t.Errorf("defaults not applied: %+v, %d shards", m.cfg, len(m.shards))
	}
}

func TestShardPadding(t *testing.T) {
	if size := unsafe.Sizeof(shard{}); size%cacheLine != 0 {
		t.Errorf("shard is %d bytes, not a multiple of %d", size, cacheLine)
	}
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
	if _, err := m.Read(big); err != nil {
		t.Fatal(err)
	}
	third := mxRead(t, m, 32)

	// Instantiate: entropy input P[0:48], personalization string O[0:48].
	d, err := NewCTR(mxStream("P", 0, SeedLen), nil, mxStream("O", 0, SeedLen), false)
	if err != nil {
		t.Fatal(err)
	}
	osOff := uint64(SeedLen)
	generate := func(n int) []byte {
		out := make([]byte, n)
		if err := d.Generate(out, mxStream("O", osOff, SeedLen)); err != nil {
			t.Fatal(err)
		}
		osOff += SeedLen
		return out
	}
	buf := generate(DefaultBufferSize)
	var wantBig []byte
	for range (1 << 20) / MaxRequest {
		wantBig = append(wantBig, generate(MaxRequest)...)
	}
	if !bytes.Equal(first, buf[:32]) || !bytes.Equal(second, buf[32:64]) || !bytes.Equal(third, buf[64:96]) {
		t.Errorf("small reads differ from the buffer of Generate(%d bytes, O[48:96])", DefaultBufferSize)
	}
	if !bytes.Equal(big, wantBig) {
		t.Errorf("1 MiB read differs from 16 Generate(64 KiB, fresh O) requests")
	}
	if st := m.Stats(); st.Generates != 17 || st.Reseeds != 0 || st.Reads != 4 || st.BytesServed != 96+1<<20 {
		t.Errorf("Stats = %+v, want 17 generates, 0 reseeds, 4 reads, %d bytes", st, 96+1<<20)
	}
}

func TestPrimaryBeforeOS(t *testing.T) {
	var log mxLog
	m := newTestMixer(t, Config{
		Primary: newMXSource("P", &log), OS: newMXSource("O", &log),
		Shards: 2, ReseedCalls: 1, BufferSize: 64,
	})
	if got := log.sources(); got != "POPO" {
		t.Fatalf("New read %q, want POPO (primary then OS, per shard)", got)
	}
	for range 20 {
		mxRead(t, m, 64)
		mxRead(t, m, 10)
	}
	// Each request is an additional input (O), preceded when the shard
	// is due by a reseed (PO); every P is followed by its O.
	got := log.sources()
	if !regexp.MustCompile(`^POPO(O|POO)+$`).MatchString(got) {
		t.Errorf("read sequence %q does not match ^POPO(O|POO)+$", got)
	}
	if st := m.Stats(); int(st.Reseeds) != strings.Count(got, "P")-2 || st.Reseeds < 18 {
		t.Errorf("Stats.Reseeds = %d, primary reads %d", st.Reseeds, strings.Count(got, "P"))
	}

	// Prediction resistance: per request one reseed (P then O) and no
	// additional input of its own.
	log.events = nil
	for _, n := range []int{32, 32, MaxRequest + 1} {
		if _, err := m.ReadPR(make([]byte, n)); err != nil {
			t.Fatal(err)
		}
	}
	if got := log.sources(); got != "POPOPOPO" {
		t.Errorf("ReadPR(32), ReadPR(32), ReadPR(MaxRequest+1) read %q, want POPOPOPO", got)
	}
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
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := m.Stats()
	_, consumed := primary.stats()
	if want := SeedLen * (shards + st.Reseeds); consumed != want {
		t.Errorf("primary gave %d bytes for %d instantiations and %d reseeds, want %d", consumed, shards, st.Reseeds, want)
	}
	seen := map[string]bool{}
	for _, e := range log.events {
		if len(e.data) != SeedLen || seen[string(e.data)] {
			t.Fatalf("primary read of %d bytes, repeated=%v", len(e.data), seen[string(e.data)])
		}
		seen[string(e.data)] = true
	}
	if len(seen) != shards+int(st.Reseeds) || st.Reseeds < 700 {
		t.Errorf("%d distinct primary reads, %d reseeds", len(seen), st.Reseeds)
	}
}

// TestOutputDependsOnBothSources checks that changing either source alone
// changes the output, and that no primary bytes appear in the output.
func TestOutputDependsOnBothSources(t *testing.T) {
	out := func(p, o string) []byte {
		m := newTestMixer(t, Config{Primary: newMXSource(p, nil), OS: newMXSource(o, nil), Shards: 1, ReseedCalls: 1})
		return append(mxRead(t, m, 32), mxRead(t, m, 1<<20)...)
	}
	base := out("P", "O")
	if !bytes.Equal(base, out("P", "O")) {
		t.Fatal("identical sources give different output")
	}
	if bytes.Equal(base[:32], out("P", "O2")[:32]) {
		t.Error("output does not depend on the OS source")
	}
	if bytes.Equal(base[:32], out("P2", "O")[:32]) {
		t.Error("output does not depend on the primary source")
	}
	// One instantiation and 16 reseeds consumed 17 × 48 primary bytes.
	primary := mxStream("P", 0, 17*SeedLen)
	for i := 0; i+BlockLen <= len(primary); i += BlockLen / 2 {
		if bytes.Contains(base, primary[i:i+BlockLen]) {
			t.Fatalf("output contains primary bytes %d-%d", i, i+BlockLen)
		}
	}
}

func TestServedBytesWiped(t *testing.T) {
	m := newTestMixer(t, Config{Primary: newMXSource("P", nil), Shards: 1, BufferSize: 1024})
	s := &m.shards[0]
	zero := make([]byte, 1024)
	mxRead(t, m, 100)
	if s.off != 100 || !bytes.Equal(s.buf[:100], zero[:100]) || bytes.Equal(s.buf[100:], zero[100:]) {
		t.Errorf("after reading 100 bytes: off %d, served part zero %v", s.off, bytes.Equal(s.buf[:100], zero[:100]))
	}
	// 924 bytes from this buffer, 76 from a refill.
	mxRead(t, m, 1000)
	if s.off != 76 || !bytes.Equal(s.buf[:76], zero[:76]) || bytes.Equal(s.buf[76:], zero[76:]) {
		t.Errorf("across a refill: off %d", s.off)
	}
	m.Close()
	if !bytes.Equal(s.buf, zero) || s.drbg != nil || s.entropy != [SeedLen]byte{} || s.input != [SeedLen]byte{} {
		t.Error("Close left state behind")
	}
}

func TestClose(t *testing.T) {
	m := newTestMixer(t, Config{Primary: newMXSource("P", nil), Shards: 2})
	mxRead(t, m, 32)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{32, 1 << 20} {
		if got, err := m.Read(make([]byte, n)); got != 0 || !errors.Is(err, ErrClosed) {
			t.Errorf("Read(%d) after Close = %d, %v", n, got, err)
		}
		if got, err := m.ReadPR(make([]byte, n)); got != 0 || !errors.Is(err, ErrClosed) {
			t.Errorf("ReadPR(%d) after Close = %d, %v", n, got, err)
		}
	}
	if st := m.Stats(); st.ReadErrors != 0 {
		t.Errorf("ErrClosed counted as a read error: %+v", st)
	}
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
					t.Error(err)
					return
				}
				outs[g] = append(outs[g], p)
			}
			if _, err := m.Read(make([]byte, 3000)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	seen := make(map[[32]byte]bool, goroutines*reads)
	for _, o := range outs {
		for _, p := range o {
			if seen[p] {
				t.Fatalf("repeated output %x", p)
			}
			seen[p] = true
		}
	}
	if st := m.Stats(); st.Reads != goroutines*(reads+1) || st.BytesServed != goroutines*(reads*32+3000) {
		t.Errorf("Stats %+v", st)
	}
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
					t.Error(err)
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
	if allocs := testing.AllocsPerRun(100, func() { m.Read(p) }); allocs != 0 {
		t.Errorf("32-byte Read from the buffer: %v allocations, want 0", allocs)
	}
	for _, c := range []struct {
		n   int
		max float64
	}{{MaxRequest, 3}, {1 << 20, 3 * (1 << 20) / MaxRequest}} {
		big := make([]byte, c.n)
		allocs := testing.AllocsPerRun(5, func() { m.Read(big) })
		t.Logf("Read(%d bytes): %v allocations", c.n, allocs)
		if allocs > c.max {
			t.Errorf("Read(%d bytes): %v allocations, want at most %v", c.n, allocs, c.max)
		}
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
	if idle := m.Stats(); busy.Reads != 1 || busy.BytesServed != 32 || idle.Reads != 2 || idle.BytesServed != 96 {
		t.Errorf("busy Stats %+v, idle Stats %+v", busy, idle)
	}
}
