package health

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// boundaryConfigs are the configurations whose cutoffs TestRCTBoundary and
// TestAPTBoundary check at C-1 (passes) and C (fails), PermanentAfter off.
func boundaryConfigs() map[string]Config {
	hsm := DefaultHSMConfig()
	hsm.PermanentAfter = 0
	return map[string]Config{
		"hsm":             hsm,
		"8bit-default":    {MinEntropy: 8},
		"8bit-h0.5-2^-20": {MinEntropy: 0.5, IntermittentAlpha: 0x1p-20, PermanentAlpha: 0x1p-40},
		"1bit-h1-2^-20":   {MinEntropy: 1, BitsPerSample: 1, IntermittentAlpha: 0x1p-20},
		"8bit-h1-2^-20":   {MinEntropy: 1, IntermittentAlpha: 0x1p-20},
		"4bit-default":    {MinEntropy: 4, BitsPerSample: 4},
		"3bit-h2":         {MinEntropy: 2, BitsPerSample: 3, Window: 64},
	}
}

// publishedCutoffs are the intermittent cutoffs of SP 800-90B §4.4 (and
// DESIGN.md) at α = 2^-20 for the boundaryConfigs that use them: the
// boundary tests take C from the Tester, so this pins what they test.
var publishedCutoffs = map[string]struct{ rct, apt int }{
	"8bit-h0.5-2^-20": {41, 410}, // H = 0.5, W = 512
	"8bit-h1-2^-20":   {21, 311}, // H = 1, W = 512
	"1bit-h1-2^-20":   {21, 589}, // H = 1, W = 1024
}

// TestBoundaryCutoffsPublished checks that the Tester runs the published
// cutoffs for those configurations, so the C-1/C tests below are at them.
func TestBoundaryCutoffsPublished(t *testing.T) {
	cfgs := boundaryConfigs()
	for name, want := range publishedCutoffs {
		require.Contains(t, cfgs, name, "not among the boundary configurations")
		st := newTester(t, cfgs[name]).Stats()
		assert.Equal(t, want.rct, st.RCT.Cutoff, "%s: RCT cutoff", name)
		assert.Equal(t, want.apt, st.APT.Cutoff, "%s: APT cutoff", name)
	}
}

// prefixLen is the length of the passing prefix before a constructed
// failure: a multiple of every window and past the start-up test.
const prefixLen = 2048

// TestRCTBoundary builds, after a passing prefix, a run of C-1 and of C
// equal samples for both the intermittent and the permanent cutoff C: C-1
// must not reach the level, C must, at the run's C-th sample.
func TestRCTBoundary(t *testing.T) {
	for name, cfg := range boundaryConfigs() {
		tr := newTester(t, cfg)
		m := 1 << tr.Config().BitsPerSample
		st := tr.Stats()
		for _, level := range []struct {
			kind   Kind
			cutoff int
		}{{Intermittent, st.RCT.Cutoff}, {Permanent, st.RCT.PermanentCutoff}} {
			for _, length := range []int{level.cutoff - 1, level.cutoff} {
				t.Run(fmt.Sprintf("%s/%v/run%d", name, level.kind, length), func(t *testing.T) {
					tr := newTester(t, cfg)
					prefix := cycle(prefixLen+5, 0, m)
					v := byte((int(prefix[len(prefix)-1]) + 1) % m)
					stream := append(prefix, make([]byte, length)...)
					for i := len(prefix); i < len(stream); i++ {
						stream[i] = v
					}
					stream = append(stream, cycle(prefixLen, int(v)+1, m)...)
					fs := feed(t, tr, stream)
					checkRunFailures(t, fs, st.RCT.Cutoff, level.kind, level.cutoff, length, int64(len(prefix)))
				})
			}
		}
	}
}

// checkRunFailures checks the failures of a run of length samples starting
// at offset start: one per sample whose count reaches the intermittent
// cutoff, the last permanent exactly when length reaches the permanent
// cutoff under test.
func checkRunFailures(t *testing.T, fs []Failure, intermittent int, kind Kind, cutoff, length int, start int64) {
	t.Helper()
	require.Len(t, fs, max(0, length-intermittent+1), "failures")
	for i, f := range fs {
		count := intermittent + i
		wantKind, wantCutoff := Intermittent, intermittent
		if kind == Permanent && count == cutoff {
			wantKind, wantCutoff = Permanent, cutoff
		}
		// Escalated is not under test here.
		want := Failure{Test: RCT, Kind: wantKind, Count: count, Cutoff: wantCutoff,
			Offset: start + int64(count) - 1, StartUp: i > 0, Escalated: f.Escalated}
		assert.Equal(t, want, f, "failure %d", i)
	}
}

// TestAPTBoundary builds, after a passing prefix, a window in which its
// first sample occurs C-1 and C times, for both the intermittent and the
// permanent cutoff C: C-1 must not reach the level, C must, at the C-th
// occurrence.
func TestAPTBoundary(t *testing.T) {
	for name, cfg := range boundaryConfigs() {
		tr := newTester(t, cfg)
		m := 1 << tr.Config().BitsPerSample
		w := tr.Config().Window
		st := tr.Stats()
		for _, level := range []struct {
			kind   Kind
			cutoff int
		}{{Intermittent, st.APT.Cutoff}, {Permanent, st.APT.PermanentCutoff}} {
			for _, k := range []int{level.cutoff - 1, level.cutoff} {
				t.Run(fmt.Sprintf("%s/%v/count%d", name, level.kind, k), func(t *testing.T) {
					tr := newTester(t, cfg)
					prefix := cycle(prefixLen, 0, m)
					a := byte((int(prefix[len(prefix)-1]) + 1) % m)
					win := spread(w, k, a, m)
					at := positions(win, a)
					require.Len(t, at, k, "copies in the window")
					stream := append(append(prefix, win...), cycle(prefixLen, int(win[w-1])+1, m)...)
					fs := feed(t, tr, stream)

					require.Len(t, fs, max(0, k-st.APT.Cutoff+1), "failures")
					for i, f := range fs {
						count := st.APT.Cutoff + i
						wantKind, wantCutoff := Intermittent, st.APT.Cutoff
						if level.kind == Permanent && count == level.cutoff {
							wantKind, wantCutoff = Permanent, level.cutoff
						}
						// Escalated is not under test here.
						want := Failure{Test: APT, Kind: wantKind, Count: count, Cutoff: wantCutoff,
							Offset: int64(prefixLen + at[count-1]), StartUp: i > 0, Escalated: f.Escalated}
						assert.Equal(t, want, f, "failure %d", i)
					}
					assert.Equal(t, k, tr.Stats().APT.Max, "Stats().APT.Max")
				})
			}
		}
	}
}
