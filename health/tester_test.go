package health

import (
	"crypto/rand"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigDefaults(t *testing.T) {
	cfg := Config{MinEntropy: 1, BitsPerSample: 1}
	orig := cfg
	tr := newTester(t, cfg)
	assert.Equal(t, orig, cfg, "NewTester changed its Config")
	want := Config{MinEntropy: 1, BitsPerSample: 1, Window: 1024,
		IntermittentAlpha: 0x1p-30, PermanentAlpha: 0x1p-60}
	assert.Equal(t, want, tr.Config())
	got := newTester(t, Config{MinEntropy: 3, PermanentAfter: 2}).Config()
	assert.Equal(t, 8, got.BitsPerSample, "defaults for 8-bit samples: %+v", got)
	assert.Equal(t, 512, got.Window, "defaults for 8-bit samples: %+v", got)
	assert.Equal(t, int64(DefaultPeriod), got.Period, "defaults for 8-bit samples: %+v", got)
	assert.Equal(t, DefaultHSMConfig(), newTester(t, DefaultHSMConfig()).Config(), "DefaultHSMConfig is not fully resolved")
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
		if assert.ErrorContains(t, err, tc.want, "NewTester(%+v)", tc.cfg) {
			assert.True(t, strings.HasPrefix(err.Error(), "health: "), "NewTester(%+v) = %v, want a health: error", tc.cfg, err)
		}
	}
}

func TestFailureError(t *testing.T) {
	var err error = &Failure{Test: APT, Kind: Intermittent, Offset: 7, Count: 26, Cutoff: 26}
	assert.ErrorIs(t, err, ErrIntermittent, "intermittent failure")
	assert.NotErrorIs(t, err, ErrPermanent, "intermittent failure")
	assert.EqualError(t, err, "health: adaptive proportion test: intermittent failure at sample 7 (count 26, cutoff 26)")
	err = &Failure{Test: RCT, Kind: Permanent, Offset: 10, Count: 11, Cutoff: 9, StartUp: true, Escalated: true}
	assert.ErrorIs(t, err, ErrPermanent, "permanent failure")
	assert.NotErrorIs(t, err, ErrIntermittent, "permanent failure")
	assert.ErrorContains(t, err, "repetition count test: permanent failure at sample 10 during start-up")
}

// TestStartUpRelease checks that Test releases no sample of a start-up test
// (SP 800-90B §4.3): the first StartUpSamples samples, and again the first
// StartUpSamples after an intermittent failure and after Restore.
func TestStartUpRelease(t *testing.T) {
	tr := newTester(t, Config{MinEntropy: 8})
	good := cycle(3*StartUpSamples, 0, 256)
	for i, want := range []int{0, 0, 500 - (StartUpSamples - 1000), 500} {
		if i < 3 {
			assert.Equal(t, StartUp, tr.State(), "block %d", i)
		} else {
			assert.NotEqual(t, StartUp, tr.State(), "block %d", i)
		}
		usable, err := tr.Test(good[i*500 : (i+1)*500])
		assert.NoError(t, err, "block %d", i)
		assert.Len(t, usable, max(0, want), "block %d: usable samples", i)
	}
	require.Equal(t, Operational, tr.State(), "State() after %d samples", 2000)

	// An intermittent failure inside a block discards all of it; the
	// samples after the failure begin a new start-up test.
	bad := cycle(200, 0, 256)
	for i := 100; i < 104; i++ { // a run of 5 reaches the RCT cutoff
		bad[i] = bad[99]
	}
	usable, err := tr.Test(bad)
	var f *Failure
	require.Nil(t, usable, "Test(bad) released samples")
	require.ErrorIs(t, err, ErrIntermittent, "Test(bad)")
	require.ErrorAs(t, err, &f, "Test(bad)")
	require.Equal(t, int64(2000+103), f.Offset, "Test(bad): %v", err)
	require.False(t, f.StartUp, "Test(bad): %v: want a failure outside a start-up test", err)
	// ... and the next block continues that start-up test.
	assert.Equal(t, StartUp, tr.State(), "State() after an intermittent failure")
	left := StartUpSamples - (200 - 104)
	usable, err = tr.Test(good)
	assert.NoError(t, err, "after an intermittent failure")
	assert.Len(t, usable, len(good)-left, "after an intermittent failure: usable samples")
	s := tr.Stats()
	assert.Equal(t, int64(2), s.StartUps, "Stats() = %+v", s)
	assert.Equal(t, int64(1), s.RCT.Intermittent, "Stats() = %+v", s)
	assert.Equal(t, int64(2000+200+len(good)), s.Samples, "Stats() = %+v", s)
}

// TestPermanentRestore checks that a permanent failure sticks until
// Restore, and that Restore is observable and re-runs the start-up test.
func TestPermanentRestore(t *testing.T) {
	tr := newTester(t, Config{MinEntropy: 8})
	stuck := make([]byte, 100)
	usable, err := tr.Test(stuck)
	var f *Failure
	require.Nil(t, usable, "Test(stuck) released samples")
	require.ErrorAs(t, err, &f, "Test(stuck)")
	require.Equal(t, Permanent, f.Kind, "Test(stuck): %v", err)
	require.Equal(t, RCT, f.Test, "Test(stuck): %v", err)
	require.Equal(t, int64(8), f.Offset, "Test(stuck): %v", err)
	require.Equal(t, 9, f.Count, "Test(stuck): %v", err)
	s := tr.Stats()
	assert.Equal(t, Failed, s.State, "Stats() = %+v", s)
	assert.Equal(t, int64(4), s.RCT.Intermittent, "Stats() = %+v", s)
	assert.Equal(t, int64(1), s.RCT.Permanent, "Stats() = %+v", s)
	assert.Equal(t, int64(9), s.Samples, "Stats() = %+v", s)
	good := cycle(2*StartUpSamples, 1, 256)
	for range 2 {
		n, err2 := tr.Write(good)
		require.Zero(t, n, "Write while failed")
		require.Same(t, err, err2, "Write while failed: want the same failure")
		usable, err2 := tr.Test(good)
		require.Nil(t, usable, "Test while failed released samples")
		require.Same(t, err, err2, "Test while failed: want the same failure")
	}
	tr.Restore()
	assert.Equal(t, StartUp, tr.State(), "State() after Restore")
	usable, err = tr.Test(good)
	assert.NoError(t, err, "after Restore")
	assert.Len(t, usable, len(good)-StartUpSamples, "after Restore: usable samples")
	s = tr.Stats()
	assert.Equal(t, Operational, s.State, "Stats() = %+v", s)
	assert.Equal(t, int64(1), s.Restores, "Stats() = %+v", s)
	assert.Equal(t, int64(6), s.StartUps, "Stats() = %+v", s)
	assert.Equal(t, 9, s.RCT.Max, "Stats() = %+v", s)
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
	require.Len(t, fs, 10, "failures")
	for _, f := range fs {
		require.Equal(t, Intermittent, f.Kind, "failure %+v escalated with failures 3000 samples apart", f)
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
	require.Len(t, fs, 3, "failures: want the third escalated at 6004")
	f := fs[2]
	require.Equal(t, Permanent, f.Kind, "third failure %+v", f)
	require.True(t, f.Escalated, "third failure %+v: want escalated", f)
	require.Equal(t, int64(6004), f.Offset, "third failure %+v", f)
	require.Equal(t, 5, f.Count, "third failure %+v", f)
	require.Equal(t, 5, f.Cutoff, "third failure %+v", f)
	s := tr.Stats()
	assert.Equal(t, int64(2), s.RCT.Intermittent, "Stats() = %+v", s)
	assert.Equal(t, int64(1), s.RCT.Permanent, "Stats() = %+v", s)
	assert.Equal(t, Failed, s.State, "Stats() = %+v", s)
}

func TestStats(t *testing.T) {
	tr := newTester(t, Config{MinEntropy: 8})
	_, err := tr.Write(cycle(4096, 0, 256))
	require.NoError(t, err)
	s := tr.Stats()
	want := Stats{State: Operational, Samples: 4096, StartUps: 1,
		RCT: Counts{Max: 1, Cutoff: 5, PermanentCutoff: 9},
		APT: Counts{Max: 2, Cutoff: 16, PermanentCutoff: 25}}
	assert.Equal(t, want, s)
	assert.Equal(t, 2.0/16, s.APT.Proximity(), "APT.Proximity()")
	// A window whose first value comes 15 times, one short of the cutoff.
	_, err = tr.Write(spread(512, 15, 7, 256))
	require.NoError(t, err)
	assert.Equal(t, 15.0/16, tr.Stats().APT.Proximity(), "APT.Proximity()")
}

// TestAllocations requires 0 allocations per call on the hot paths.
func TestAllocations(t *testing.T) {
	block := make([]byte, blockSize)
	rand.Read(block)
	hsm := newTester(t, DefaultHSMConfig())
	n := testing.AllocsPerRun(100, func() {
		if _, err := hsm.Test(block); err != nil {
			require.NoError(t, err)
		}
	})
	assert.Zero(t, n, "Test (8-bit): allocations per call")
	for i := range block {
		block[i] &= 1
	}
	bin := newTester(t, Config{MinEntropy: 1, BitsPerSample: 1})
	n = testing.AllocsPerRun(20, func() {
		if _, err := bin.Write(block); err != nil {
			require.NoError(t, err)
		}
		_ = bin.Stats()
	})
	assert.Zero(t, n, "Write (1-bit) and Stats: allocations per call")
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
				_, err := tr.Test(block)
				assert.NoError(t, err) // assert, not require: not the test's goroutine
				_ = tr.Stats()
				_ = tr.State()
			}
			_ = g
		})
	}
	wg.Wait()
	assert.Equal(t, int64(4*50*4096), tr.Stats().Samples, "Samples")
}

// TestHSMFalseAlarmRate checks the arithmetic in DefaultHSMConfig's doc:
// its cutoffs, and fewer than one false alarm a year at 100 MB/s from an
// ideal source, with the APT's exact failure distribution.
func TestHSMFalseAlarmRate(t *testing.T) {
	s := newTester(t, DefaultHSMConfig()).Stats()
	require.Equal(t, 9, s.RCT.Cutoff, "RCT cutoff")
	require.Equal(t, 17, s.RCT.PermanentCutoff, "RCT permanent cutoff")
	require.Equal(t, 26, s.APT.Cutoff, "APT cutoff")
	require.Equal(t, 41, s.APT.PermanentCutoff, "APT permanent cutoff")
	const perYear = 100e6 * 31_557_600 // samples a year at 100 MB/s
	rct := perYear * math.Pow(256, -float64(s.RCT.Cutoff-1))
	apt, _ := aptEvents(512, s.APT.Cutoff)
	apt *= perYear / 512
	t.Logf("false alarms a year: RCT %.3g, APT %.3g", rct, apt)
	assert.GreaterOrEqual(t, rct+apt, 1.6e-4, "false alarms a year, the doc says 1.7e-4")
	assert.Less(t, rct+apt, 1.8e-4, "false alarms a year, the doc says 1.7e-4")
}
