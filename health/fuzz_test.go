package health

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hsmentropy/hsmentropy/internal/nistdata"
	"github.com/stretchr/testify/require"
)

// fuzzConfigs are the configurations FuzzChunking picks from: small windows
// and large alphas so that arbitrary input fails often, at both levels, with
// and without PermanentAfter, on the 8-bit fast path and the narrow path.
func fuzzConfigs() []Config {
	return []Config{
		{MinEntropy: 8, Window: 16, IntermittentAlpha: 0x1p-8, PermanentAlpha: 0x1p-16},
		{MinEntropy: 8, Window: 16, IntermittentAlpha: 0x1p-8, PermanentAlpha: 0x1p-16, PermanentAfter: 2, Period: 50},
		{MinEntropy: 1, BitsPerSample: 1, Window: 32, IntermittentAlpha: 0x1p-4, PermanentAlpha: 0x1p-10},
		{MinEntropy: 2, BitsPerSample: 4, Window: 64, IntermittentAlpha: 0x1p-8, PermanentAlpha: 0x1p-20, PermanentAfter: 3, Period: 300},
		{MinEntropy: 0.5, BitsPerSample: 2, Window: 128, IntermittentAlpha: 0x1p-10, PermanentAlpha: 0x1p-20},
		DefaultHSMConfig(),
		{MinEntropy: 8},
		{MinEntropy: 3, BitsPerSample: 7, Window: 100, PermanentAfter: 1},
		{MinEntropy: 4, Window: 40, IntermittentAlpha: 0x1p-6, PermanentAlpha: 0x1p-12},
	}
}

// FuzzChunking checks that the streaming Tester gives the same verdicts, at
// the same offsets, whether a stream comes in one Write or in arbitrary
// chunks (empty ones included), and that both agree with reference, a
// sample-at-a-time implementation written straight from SP 800-90B §4.4. A
// permanent failure is followed by Restore, so the whole input is tested.
// Test, fed the same chunks, must leave the Stats of Write calls that drop
// the rest of a chunk after a permanent failure.
func FuzzChunking(f *testing.F) {
	f.Add(make([]byte, 3000), []byte{7, 0, 200}, uint8(0))
	f.Add(cycle(5000, 0, 256), []byte{1, 2, 3, 250}, uint8(5))
	f.Add(spread(512, 30, 9, 256), []byte{17}, uint8(5))
	if dir, err := nistdata.Find(); err == nil { // seeds beside the ones above
		for i, name := range []string{"rand8_short", "truerand_1bit", "biased-random-bytes", "normal", "ringOsc-nist", "truerand_4bit"} {
			b, err := os.ReadFile(filepath.Join(dir, "sp800-90b", name+".bin"))
			require.NoError(f, err)
			for sel := range fuzzConfigs() {
				f.Add(b[:min(len(b), 8192)], []byte{byte(13 * i), 64, 1}, uint8(sel))
			}
		}
	}
	f.Fuzz(func(t *testing.T, data, cuts []byte, sel uint8) {
		cfgs := fuzzConfigs()
		cfg := cfgs[int(sel)%len(cfgs)]
		oneShot := newTester(t, cfg)
		want, wantStats := drive(t, oneShot, [][]byte{data}, false)

		var chunks [][]byte
		for i, rest := 0, data; len(rest) > 0; i++ {
			n := len(rest)
			if len(cuts) > 0 {
				c := int(cuts[i%len(cuts)])
				n = min(n, c*c/16)
			}
			if n == 0 {
				chunks = append(chunks, nil)
				n = 1
			}
			chunks = append(chunks, rest[:n])
			rest = rest[n:]
		}
		chunked := newTester(t, cfg)
		got, gotStats := drive(t, chunked, chunks, false)
		require.Equal(t, want, got, "chunked verdicts differ from one-shot")
		require.Equal(t, wantStats, gotStats, "chunked Stats differ from one-shot")

		ref := newReference(oneShot.Config())
		refFailures, refStats := ref.feedAll(data)
		require.Equal(t, refFailures, want, "verdicts differ from the reference")
		require.Equal(t, refStats, wantStats, "Stats differ from the reference")

		// Test stops at a permanent failure and drops the rest of the block.
		_, dropStats := drive(t, newTester(t, cfg), chunks, true)
		viaTest := newTester(t, cfg)
		for _, c := range chunks {
			if _, err := viaTest.Test(c); errors.Is(err, ErrPermanent) {
				viaTest.Restore()
			}
		}
		require.Equal(t, dropStats, viaTest.Stats(), "Stats after Test differ from those after Write")
	})
}

// drive writes the chunks to tr, restoring it after each permanent failure
// (and dropping the rest of that chunk if drop is set), and returns the
// failures and the final Stats.
func drive(t *testing.T, tr *Tester, chunks [][]byte, drop bool) ([]Failure, Stats) {
	var fs []Failure
	for _, c := range chunks {
		for first := true; first || len(c) > 0; first = false {
			n, err := tr.Write(c)
			c = c[n:]
			if err == nil {
				continue
			}
			var f *Failure
			require.ErrorAs(t, err, &f, "Write")
			fs = append(fs, *f)
			if f.Kind == Permanent {
				tr.Restore()
				if drop {
					break
				}
			}
		}
	}
	return fs, tr.Stats()
}

// reference is a sample-at-a-time implementation of the tests, kept
// deliberately plain, to check the Tester against.
type reference struct {
	cfg                    Config
	rctC, rctP, aptC, aptP int
	mask                   byte

	last      byte // RCT: A
	run       int  // RCT: B
	first     byte // APT: A
	count     int  // APT: B
	seen      int  // APT: samples of the window so far
	startLeft int
	pos       int64
	recent    []int64 // offsets of intermittent failures since Restore
	stats     Stats
}

func newReference(cfg Config) *reference {
	r := &reference{
		cfg:  cfg,
		rctC: RCTCutoff(cfg.MinEntropy, cfg.IntermittentAlpha),
		rctP: RCTCutoff(cfg.MinEntropy, cfg.PermanentAlpha),
		aptC: APTCutoff(cfg.MinEntropy, cfg.IntermittentAlpha, cfg.Window),
		aptP: APTCutoff(cfg.MinEntropy, cfg.PermanentAlpha, cfg.Window),
		mask: byte(1<<cfg.BitsPerSample - 1),
	}
	r.stats.RCT.Cutoff, r.stats.RCT.PermanentCutoff = r.rctC, r.rctP
	r.stats.APT.Cutoff, r.stats.APT.PermanentCutoff = r.aptC, r.aptP
	r.restart()
	r.stats.Restores = 0
	return r
}

func (r *reference) restart() {
	r.run, r.seen, r.recent = 0, 0, nil
	r.startLeft = StartUpSamples
	r.stats.StartUps++
	r.stats.Restores++
	r.stats.State = StartUp
}

func (r *reference) feedAll(data []byte) ([]Failure, Stats) {
	var fs []Failure
	for _, x := range data {
		x &= r.mask
		r.stats.Samples++
		// §4.4.1.
		if r.run > 0 && x == r.last {
			r.run++
		} else {
			r.last, r.run = x, 1
		}
		r.stats.RCT.Max = max(r.stats.RCT.Max, r.run)
		rctFail := r.run >= r.rctC
		// §4.4.2.
		counted := r.seen == 0 || x == r.first
		if r.seen == 0 {
			r.first, r.count = x, 1
		} else if x == r.first {
			r.count++
		}
		r.seen = (r.seen + 1) % r.cfg.Window
		r.stats.APT.Max = max(r.stats.APT.Max, r.count)
		aptFail := counted && r.count >= r.aptC
		r.pos++

		if !rctFail && !aptFail {
			if r.startLeft > 0 {
				r.startLeft--
				if r.startLeft == 0 {
					r.stats.State = Operational
				}
			}
			continue
		}
		rctPerm, aptPerm := rctFail && r.run >= r.rctP, aptFail && r.count >= r.aptP
		f := Failure{Test: RCT, Kind: Intermittent, Offset: r.pos - 1, Count: r.run, Cutoff: r.rctC, StartUp: r.startLeft > 0}
		if !rctFail || (aptPerm && !rctPerm) {
			f.Test, f.Count, f.Cutoff = APT, r.count, r.aptC
		}
		if (f.Test == RCT && rctPerm) || (f.Test == APT && aptPerm) {
			f.Kind = Permanent
			f.Cutoff = map[TestName]int{RCT: r.rctP, APT: r.aptP}[f.Test]
		} else if r.cfg.PermanentAfter > 0 {
			r.recent = append(r.recent, f.Offset)
			within := 0
			for _, o := range r.recent {
				if f.Offset-o < r.cfg.Period {
					within++
				}
			}
			if within >= r.cfg.PermanentAfter {
				f.Kind, f.Escalated = Permanent, true
			}
		}
		fs = append(fs, f)
		counts := map[TestName]*Counts{RCT: &r.stats.RCT, APT: &r.stats.APT}[f.Test]
		if f.Kind == Permanent {
			counts.Permanent++
			r.restart()
		} else {
			counts.Intermittent++
			r.startLeft = StartUpSamples
			r.stats.StartUps++
			r.stats.State = StartUp
		}
	}
	return fs, r.stats
}
