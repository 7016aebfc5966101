package mixer

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReseedTriggers(t *testing.T) {
	for _, c := range []struct {
		name        string
		cfg         Config
		reads, size int
		wait        time.Duration
		want        uint64
	}{
		// Reseed before the 4th, 7th and 10th request.
		{"calls", Config{ReseedCalls: 3, BufferSize: 64}, 10, 64, 0, 3},
		// 3 × 64 = 192 ≤ 200 bytes; the 4th request would pass 200.
		{"bytes", Config{ReseedBytes: 200, BufferSize: 64}, 10, 64, 0, 3},
		{"bytes exact", Config{ReseedBytes: 192, BufferSize: 64}, 10, 64, 0, 3},
		// 1 MiB = 16 requests of MaxRequest; reseed before the 5th, 9th, 13th.
		{"calls, direct", Config{ReseedCalls: 4}, 1, 1 << 20, 0, 3},
		{"time", Config{ReseedInterval: 50 * time.Millisecond, BufferSize: 64}, 3, 64, 100 * time.Millisecond, 2},
		{"time disabled", Config{ReseedInterval: -1, BufferSize: 64}, 3, 64, 10 * time.Millisecond, 0},
		// Reads served from the buffer run no request and check nothing.
		{"buffered", Config{ReseedCalls: 1, BufferSize: 1024}, 32, 32, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			primary := newMXSource("P", nil)
			cfg := c.cfg
			cfg.Primary, cfg.Shards = primary, 1
			m := newTestMixer(t, cfg)
			for i := range c.reads {
				if i > 0 {
					time.Sleep(c.wait)
				}
				mxRead(t, m, c.size)
			}
			if st := m.Stats(); st.Reseeds != c.want {
				t.Errorf("%d reseeds, want %d (%+v)", st.Reseeds, c.want, st)
			}
			if _, consumed := primary.stats(); consumed != SeedLen*(1+c.want) {
				t.Errorf("primary gave %d bytes, want %d", consumed, SeedLen*(1+c.want))
			}
		})
	}
}

func TestPredictionResistance(t *testing.T) {
	primary := newMXSource("P", nil)
	m := newTestMixer(t, Config{Primary: primary, Shards: 1, PredictionResistance: true})
	for range 5 {
		mxRead(t, m, 32)
	}
	if st := m.Stats(); st.Reseeds != 5 || st.Generates != 5 {
		t.Errorf("5 PR reads: %+v, want 5 reseeds and 5 generates", st)
	}
	if _, consumed := primary.stats(); consumed != 6*SeedLen {
		t.Errorf("primary gave %d bytes, want %d", consumed, 6*SeedLen)
	}

	// On a buffered Mixer, ReadPR does not serve the buffer's bytes.
	m = newTestMixer(t, Config{Primary: newMXSource("P", nil), Shards: 1, BufferSize: 1024})
	mxRead(t, m, 32)
	s := &m.shards[0]
	next := bytes.Clone(s.buf[s.off : s.off+32])
	p := make([]byte, 32)
	if _, err := m.ReadPR(p); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(p, next) || !bytes.Equal(s.buf[s.off:s.off+32], next) {
		t.Error("ReadPR served bytes buffered before its reseed")
	}
	if _, err := m.ReadPR(make([]byte, 100<<10)); err != nil {
		t.Fatal(err)
	}
	if st := m.Stats(); st.Reseeds != 3 {
		t.Errorf("ReadPR(32) and ReadPR(100 KiB): %d reseeds, want 1 + 2", st.Reseeds)
	}
}

// mxHook counts its calls and returns a fixed Decision.
type mxHook struct {
	mu    sync.Mutex
	calls int
	errs  []error
	d     Decision
}

func (h *mxHook) decide(err error) Decision {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	h.errs = append(h.errs, err)
	return h.d
}

func TestPrimaryErrorFail(t *testing.T) {
	primary := newMXSource("P", nil)
	primary.setFailures(-1)
	hook := &mxHook{d: Fail}
	if _, err := New(Config{Primary: primary, OnPrimaryError: hook.decide}); !errors.Is(err, ErrPrimary) || !errors.Is(err, errMxPrimaryDown) {
		t.Fatalf("New with a failing primary: %v, want ErrPrimary wrapping the cause", err)
	}
	if hook.calls != 1 || !errors.Is(hook.errs[0], errMxPrimaryDown) {
		t.Errorf("hook called %d times with %v", hook.calls, hook.errs)
	}
	// A nil hook means Fail too.
	if _, err := New(Config{Primary: primary}); !errors.Is(err, ErrPrimary) {
		t.Errorf("New with nil hook: %v", err)
	}

	// At a reseed the Read fails, p is zeroed, and the next Read tries again.
	primary.setFailures(0)
	hook = &mxHook{d: Fail}
	m := newTestMixer(t, Config{Primary: primary, Shards: 1, ReseedCalls: 1, BufferSize: 64, OnPrimaryError: hook.decide})
	mxRead(t, m, 64)
	primary.setFailures(1)
	p := bytes.Repeat([]byte{0xff}, 64)
	if n, err := m.Read(p); n != 0 || !errors.Is(err, ErrPrimary) || !errors.Is(err, errMxPrimaryDown) {
		t.Errorf("Read with the primary down = %d, %v", n, err)
	}
	if !bytes.Equal(p, make([]byte, 64)) {
		t.Error("failed Read left bytes in p")
	}
	mxRead(t, m, 64)
	st := m.Stats()
	if hook.calls != 1 || st.PrimaryErrors != 1 || st.ReadErrors != 1 || st.Reseeds != 1 || st.Reads != 2 {
		t.Errorf("hook calls %d, Stats %+v", hook.calls, st)
	}
}

func TestPrimaryErrorRetry(t *testing.T) {
	primary := newMXSource("P", nil)
	primary.setFailures(3)
	hook := &mxHook{d: Retry}
	m := newTestMixer(t, Config{Primary: primary, Shards: 1, OnPrimaryError: hook.decide})
	mxRead(t, m, 32)
	if st := m.Stats(); hook.calls != 3 || st.PrimaryErrors != 3 || st.OSOnlySeeds != 0 || st.DegradedShards != 0 {
		t.Errorf("hook calls %d, Stats %+v", hook.calls, st)
	}
}

// TestPrimaryErrorRetryClose blocks a Read in a hook that waits, closes the
// Mixer meanwhile, and checks the Read then ends with ErrClosed.
func TestPrimaryErrorRetryClose(t *testing.T) {
	primary := newMXSource("P", nil)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hook := func(error) Decision {
		once.Do(func() { close(entered) })
		<-release
		return Retry
	}
	m := newTestMixer(t, Config{Primary: primary, Shards: 1, ReseedCalls: 1, BufferSize: 64, OnPrimaryError: hook})
	mxRead(t, m, 64)
	primary.setFailures(-1)
	readErr := make(chan error)
	go func() {
		_, err := m.Read(make([]byte, 64))
		readErr <- err
	}()
	<-entered
	closed := make(chan struct{})
	go func() {
		m.Close()
		close(closed)
	}()
	for !m.closed.Load() {
		time.Sleep(time.Millisecond)
	}
	select {
	case <-closed:
		t.Fatal("Close returned while a Read held the shard")
	default:
	}
	close(release)
	if err := <-readErr; !errors.Is(err, ErrClosed) {
		t.Errorf("blocked Read ended with %v, want ErrClosed", err)
	}
	<-closed
}

func TestPrimaryErrorContinueOSOnly(t *testing.T) {
	var log mxLog
	primary := newMXSource("P", &log)
	primary.setFailures(-1)
	hook := &mxHook{d: ContinueOSOnly}
	m := newTestMixer(t, Config{
		Primary: primary, OS: newMXSource("O", &log),
		Shards: 2, ReseedCalls: 1, BufferSize: 64, OnPrimaryError: hook.decide,
	})
	// Entropy input from the OS, then the OS personalization string.
	if got := log.sources(); got != "POOPOO" {
		t.Errorf("New read %q, want POOPOO (failed primary, OS entropy, OS personalization)", got)
	}
	if st := m.Stats(); st.OSOnlySeeds != 2 || st.DegradedShards != 2 || st.PrimaryErrors != 2 {
		t.Errorf("Stats %+v, want 2 OS-only seeds, 2 degraded shards", st)
	}
	a, b := mxRead(t, m, 64), mxRead(t, m, 64)
	if bytes.Equal(a, b) {
		t.Error("degraded shards repeat output")
	}

	// The primary comes back: the next request of each shard reseeds from
	// it, whatever the reseed policy's counts say.
	primary.setFailures(0)
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		err := m.read(s, make([]byte, 64))
		s.mu.Unlock()
		if err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
	}
	// Each failed primary read made exactly one OS-only seeding.
	if st := m.Stats(); st.DegradedShards != 0 || st.OSOnlySeeds != st.PrimaryErrors {
		t.Errorf("after the primary came back: %+v, want no degraded shard", st)
	}
}

// TestDegradedShardRetriesPrimary checks that a shard seeded from the OS
// alone goes back to the primary at its next request, not only when the
// reseed policy's counts come due.
func TestDegradedShardRetriesPrimary(t *testing.T) {
	primary := newMXSource("P", nil)
	primary.setFailures(-1)
	hook := &mxHook{d: ContinueOSOnly}
	m := newTestMixer(t, Config{
		Primary: primary, OS: newMXSource("O", nil),
		Shards: 1, BufferSize: 64, OnPrimaryError: hook.decide,
	})
	if st := m.Stats(); st.DegradedShards != 1 {
		t.Fatalf("Stats %+v, want 1 degraded shard", st)
	}
	primary.setFailures(0)
	mxRead(t, m, 64) // empties the buffer filled at New
	mxRead(t, m, 64) // refills: the reseed comes first
	if st := m.Stats(); st.DegradedShards != 0 || st.Reseeds == 0 {
		t.Errorf("Stats %+v, want the shard reseeded from the primary", st)
	}
}

func TestUnknownDecision(t *testing.T) {
	primary := newMXSource("P", nil)
	primary.setFailures(-1)
	_, err := New(Config{Primary: primary, OnPrimaryError: func(error) Decision { return 42 }})
	if !errors.Is(err, ErrPrimary) || !strings.Contains(err.Error(), "Decision(42)") {
		t.Errorf("New with a hook returning 42: %v", err)
	}
	for d, want := range map[Decision]string{Fail: "Fail", Retry: "Retry", ContinueOSOnly: "ContinueOSOnly", -1: "Decision(-1)"} {
		if d.String() != want {
			t.Errorf("Decision %d String() = %q, want %q", int(d), d.String(), want)
		}
	}
}

func TestOSErrorFailsRead(t *testing.T) {
	os := newMXSource("O", nil)
	m := newTestMixer(t, Config{Primary: newMXSource("P", nil), OS: os, Shards: 1})
	os.setFailures(1)
	if _, err := m.Read(make([]byte, 32)); !errors.Is(err, errMxPrimaryDown) || !strings.HasPrefix(err.Error(), "mixer: OS source: ") {
		t.Errorf("Read with the OS down: %v", err)
	}
	mxRead(t, m, 32)
}
