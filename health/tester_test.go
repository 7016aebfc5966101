package health

import (
	"crypto/rand"
	"errors"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func TestConfigDefaults(t *testing.T) {
	cfg := Config{MinEntropy: 1, BitsPerSample: 1}
	orig := cfg
	tr := newTester(t, cfg)
	if cfg != orig {
		t.Errorf("NewTester changed its Config: %+v, was %+v", cfg, orig)
	}
	want := Config{MinEntropy: 1, BitsPerSample: 1, Window: 1024,
		IntermittentAlpha: 0x1p-30, PermanentAlpha: 0x1p-60}
	if got := tr.Config(); got != want {
		t.Errorf("Config() = %+v, want %+v", got, want)
	}
	got := newTester(t, Config{MinEntropy: 3, PermanentAfter: 2}).Config()
	if got.BitsPerSample != 8 || got.Window != 512 || got.Period != DefaultPeriod {
		t.Errorf("defaults for 8-bit samples: %+v", got)
	}
	if got := newTester(t, DefaultHSMConfig()).Config(); got != DefaultHSMConfig() {
		t.Errorf("DefaultHSMConfig is not fully resolved: %+v", got)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "MinEntropy"},
		{Config{MinEntropy: 9}, "MinEntropy"},
		{Config{MinEntropy: 2, BitsPerSample: 1}, "MinEntropy"},
		{Config{MinEntropy: math.NaN()}, "MinEntropy"},
		{Config{MinEntropy: 1, BitsPerSample: 9}, "BitsPerSample"},
		{Config{MinEntropy: 1, BitsPerSample: -1}, "BitsPerSample"},
		{Config{MinEntropy: 1, Window: 1}, "Window"},
		{Config{MinEntropy: 1, Window: 1<<20 + 1}, "Window"},
		{Config{MinEntropy: 1, IntermittentAlpha: 1}, "IntermittentAlpha"},
		{Config{MinEntropy: 1, IntermittentAlpha: -0x1p-20}, "IntermittentAlpha"},
		{Config{MinEntropy: 1, IntermittentAlpha: 0x1p-40, PermanentAlpha: 0x1p-30}, "PermanentAlpha"},
		{Config{MinEntropy: 1, PermanentAlpha: math.NaN()}, "PermanentAlpha"},
		{Config{MinEntropy: 1, PermanentAfter: -1}, "PermanentAfter"},
		{Config{MinEntropy: 1, Period: -1}, "Period"},
		{Config{MinEntropy: 8, IntermittentAlpha: 0.9, PermanentAlpha: 0.9}, "every window fails"},
		// The NIST tool's claim for biased-random-bits: no window can fail.
		{Config{MinEntropy: 0.017766579116465193, BitsPerSample: 1}, "exceeds the window"},
	} {
		_, err := NewTester(tc.cfg)
		if err == nil || !strings.HasPrefix(err.Error(), "health: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewTester(%+v) = %v, want a health: error about %s", tc.cfg, err, tc.want)
		}
	}
}

func TestFailureError(t *testing.T) {
	var err error = &Failure{Test: APT, Kind: Intermittent, Offset: 7, Count: 26, Cutoff: 26}
	if !errors.Is(err, ErrIntermittent) || errors.Is(err, ErrPermanent) {
		t.Errorf("intermittent failure: errors.Is wrong")
	}
	const want = "health: adaptive proportion test: intermittent failure at sample 7 (count 26, cutoff 26)"
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
	err = &Failure{Test: RCT, Kind: Permanent, Offset: 10, Count: 11, Cutoff: 9, StartUp: true, Escalated: true}
	if !errors.Is(err, ErrPermanent) || errors.Is(err, ErrIntermittent) {
		t.Errorf("permanent failure: errors.Is wrong")
	}
	if !strings.Contains(err.Error(), "repetition count test: permanent failure at sample 10 during start-up") {
		t.Errorf("Error() = %q", err)
	}
}

// TestStartUpRelease checks that Test releases no sample of a start-up test
// (SP 800-90B §4.3): the first StartUpSamples samples, and again the first
// StartUpSamples after an intermittent failure and after Restore.
func TestStartUpRelease(t *testing.T) {
	tr := newTester(t, Config{MinEntropy: 8})
	good := cycle(3*StartUpSamples, 0, 256)
	for i, want := range []int{0, 0, 500 - (StartUpSamples - 1000), 500} {
		if st := tr.State(); (i < 3) != (st == StartUp) {
			t.Errorf("block %d: State() = %v", i, st)
		}
		usable, err := tr.Test(good[i*500 : (i+1)*500])
		if err != nil || len(usable) != max(0, want) {
			t.Errorf("block %d: %d usable samples, %v; want %d", i, len(usable), err, max(0, want))
		}
	}
	if st := tr.State(); st != Operational {
		t.Fatalf("State() = %v after %d samples, want operational", st, 2000)
	}

	// An intermittent failure inside a block discards all of it; the
	// samples after the failure begin a new start-up test.
	bad := cycle(200, 0, 256)
	for i := 100; i < 104; i++ { // a run of 5 reaches the RCT cutoff
		bad[i] = bad[99]
	}
	usable, err := tr.Test(bad)
	var f *Failure
	if usable != nil || !errors.Is(err, ErrIntermittent) || !errors.As(err, &f) || f.Offset != 2000+103 || f.StartUp {
		t.Fatalf("Test(bad) = %d samples, %v; want none and an intermittent RCT failure at 2103", len(usable), err)
	}
	// ... and the next block continues that start-up test.
	if st := tr.State(); st != StartUp {
		t.Errorf("State() = %v after an intermittent failure, want start-up", st)
	}
	left := StartUpSamples - (200 - 104)
	usable, err = tr.Test(good)
	if err != nil || len(usable) != len(good)-left {
		t.Errorf("after an intermittent failure: %d usable samples, %v; want %d", len(usable), err, len(good)-left)
	}
	if s := tr.Stats(); s.StartUps != 2 || s.RCT.Intermittent != 1 || s.Samples != int64(2000+200+len(good)) {
		t.Errorf("Stats() = %+v", s)
	}
}

// TestPermanentRestore checks that a permanent failure sticks until
// Restore, and that Restore is observable and re-runs the start-up test.
func TestPermanentRestore(t *testing.T) {
	tr := newTester(t, Config{MinEntropy: 8})
	stuck := make([]byte, 100)
	usable, err := tr.Test(stuck)
	var f *Failure
	if usable != nil || !errors.As(err, &f) || f.Kind != Permanent || f.Test != RCT || f.Offset != 8 || f.Count != 9 {
		t.Fatalf("Test(stuck) = %d samples, %v; want a permanent RCT failure at sample 8", len(usable), err)
	}
	if s := tr.Stats(); s.State != Failed || s.RCT.Intermittent != 4 || s.RCT.Permanent != 1 || s.Samples != 9 {
		t.Errorf("Stats() = %+v, want failed after 4 intermittent and 1 permanent failures in 9 samples", s)
	}
	good := cycle(2*StartUpSamples, 1, 256)
	for range 2 {
		n, err2 := tr.Write(good)
		if n != 0 || err2 != err {
			t.Fatalf("Write while failed = %d, %v; want 0 and the same failure", n, err2)
		}
		if usable, err2 := tr.Test(good); usable != nil || err2 != err {
			t.Fatalf("Test while failed = %d samples, %v", len(usable), err2)
		}
	}
	tr.Restore()
	if st := tr.State(); st != StartUp {
		t.Errorf("State() after Restore = %v, want start-up", st)
	}
	usable, err = tr.Test(good)
	if err != nil || len(usable) != len(good)-StartUpSamples {
		t.Errorf("after Restore: %d usable samples, %v", len(usable), err)
	}
	s := tr.Stats()
	if s.State != Operational || s.Restores != 1 || s.StartUps != 6 || s.RCT.Max != 9 {
		t.Errorf("Stats() = %+v, want operational, 1 restore, 6 start-ups, RCT max 9", s)
	}
}

// TestEscalation checks that the PermanentAfter-th intermittent failure
// within Period samples is permanent, and that failures further apart are
// not.
func TestEscalation(t *testing.T) {
	cfg := Config{MinEntropy: 8, PermanentAfter: 3, Period: 5000}
	tr := newTester(t, cfg)
	// Runs of 5 (one intermittent RCT failure each) every 3000 samples: any
	// three span 6000 ≥ Period samples.
	stream := cycle(30000, 0, 256)
	for at := 2000; at+5 < len(stream); at += 3000 {
		for i := at + 1; i < at+5; i++ {
			stream[i] = stream[at]
		}
	}
	fs := feed(t, tr, stream)
	if len(fs) != 10 {
		t.Fatalf("%d failures, want 10", len(fs))
	}
	for _, f := range fs {
		if f.Kind != Intermittent {
			t.Fatalf("failure %+v escalated with failures 3000 samples apart", f)
		}
	}
	// Now three runs 2000 apart: the third failure is permanent.
	tr = newTester(t, cfg)
	stream = cycle(30000, 0, 256)
	for _, at := range []int{2000, 4000, 6000} {
		for i := at + 1; i < at+5; i++ {
			stream[i] = stream[at]
		}
	}
	fs = feed(t, tr, stream)
	if len(fs) != 3 || fs[2].Kind != Permanent || !fs[2].Escalated || fs[2].Offset != 6004 || fs[2].Count != 5 || fs[2].Cutoff != 5 {
		t.Fatalf("failures %+v, want the third escalated at 6004", fs)
	}
	if s := tr.Stats(); s.RCT.Intermittent != 2 || s.RCT.Permanent != 1 || s.State != Failed {
		t.Errorf("Stats() = %+v", s)
	}
}

func TestStats(t *testing.T) {
	tr := newTester(t, Config{MinEntropy: 8})
	if _, err := tr.Write(cycle(4096, 0, 256)); err != nil {
		t.Fatal(err)
	}
	s := tr.Stats()
	want := Stats{State: Operational, Samples: 4096, StartUps: 1,
		RCT: Counts{Max: 1, Cutoff: 5, PermanentCutoff: 9},
		APT: Counts{Max: 2, Cutoff: 16, PermanentCutoff: 25}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Stats() = %+v, want %+v", s, want)
	}
	if got := s.APT.Proximity(); got != 2.0/16 {
		t.Errorf("APT.Proximity() = %g, want 1/8", got)
	}
	// A window whose first value comes 15 times, one short of the cutoff.
	if _, err := tr.Write(spread(512, 15, 7, 256)); err != nil {
		t.Fatal(err)
	}
	if got := tr.Stats().APT.Proximity(); got != 15.0/16 {
		t.Errorf("APT.Proximity() = %g, want 15/16", got)
	}
}

// TestAllocations requires 0 allocations per call on the hot paths.
func TestAllocations(t *testing.T) {
	block := make([]byte, blockSize)
	rand.Read(block)
	hsm := newTester(t, DefaultHSMConfig())
	if n := testing.AllocsPerRun(100, func() {
		if _, err := hsm.Test(block); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Test (8-bit): %g allocations per call, want 0", n)
	}
	for i := range block {
		block[i] &= 1
	}
	bin := newTester(t, Config{MinEntropy: 1, BitsPerSample: 1})
	if n := testing.AllocsPerRun(20, func() {
		if _, err := bin.Write(block); err != nil {
			t.Fatal(err)
		}
		_ = bin.Stats()
	}); n != 0 {
		t.Errorf("Write (1-bit) and Stats: %g allocations per call, want 0", n)
	}
}

// TestConcurrent runs Test, Stats and State from several goroutines, for
// the race detector.
func TestConcurrent(t *testing.T) {
	tr := newTester(t, DefaultHSMConfig())
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			block := make([]byte, 4096)
			for range 50 {
				rand.Read(block)
				if _, err := tr.Test(block); err != nil {
					t.Error(err)
				}
				_ = tr.Stats()
				_ = tr.State()
			}
			_ = g
		})
	}
	wg.Wait()
	if s := tr.Stats(); s.Samples != 4*50*4096 {
		t.Errorf("Samples = %d, want %d", s.Samples, 4*50*4096)
	}
}

// TestHSMFalseAlarmRate checks the arithmetic in DefaultHSMConfig's doc:
// its cutoffs, and fewer than one false alarm a year at 100 MB/s from an
// ideal source, with the APT's exact failure distribution.
func TestHSMFalseAlarmRate(t *testing.T) {
	s := newTester(t, DefaultHSMConfig()).Stats()
	if s.RCT.Cutoff != 9 || s.RCT.PermanentCutoff != 17 || s.APT.Cutoff != 26 || s.APT.PermanentCutoff != 41 {
		t.Fatalf("cutoffs %+v %+v, want RCT 9/17, APT 26/41", s.RCT, s.APT)
	}
	const perYear = 100e6 * 31_557_600 // samples a year at 100 MB/s
	rct := perYear * math.Pow(256, -float64(s.RCT.Cutoff-1))
	apt, _ := aptEvents(512, s.APT.Cutoff)
	apt *= perYear / 512
	t.Logf("false alarms a year: RCT %.3g, APT %.3g", rct, apt)
	if rct+apt >= 1.8e-4 || rct+apt < 1.6e-4 {
		t.Errorf("%.3g false alarms a year, the doc says 1.7e-4", rct+apt)
	}
}
