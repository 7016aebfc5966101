package health

import "sync"

// State is where a Tester stands in the life cycle of SP 800-90B §4.3.
type State uint8

const (
	// StartUp: the start-up test is running; no sample may be released.
	StartUp State = iota + 1
	// Operational: the start-up test passed; samples that pass may be used.
	Operational
	// Failed: a permanent failure occurred; every call fails until Restore.
	Failed
)

func (s State) String() string {
	switch s {
	case StartUp:
		return "start-up"
	case Operational:
		return "operational"
	case Failed:
		return "failed"
	}
	return "State(?)"
}

// Tester runs the continuous health tests of SP 800-90B §4.4 over a stream
// of samples, and the start-up test of §4.3 over the first StartUpSamples
// of it and again after every failure. It is safe for concurrent use; the
// samples of concurrent calls form one stream in the order the calls run.
type Tester struct {
	mu  sync.Mutex
	cfg Config
	cut cutoffs
	// mask keeps the low BitsPerSample bits of a byte.
	mask byte

	rct rctState
	apt aptState

	state State
	// pos is the number of samples consumed since NewTester.
	pos int64
	// startLeft is the number of samples the running start-up test still
	// needs; 0 when Operational.
	startLeft int
	// fatal is the permanent failure, while Failed.
	fatal *Failure
	// recent holds the offsets of the latest PermanentAfter-1 intermittent
	// failures since the last Restore, oldest at head.
	recent      []int64
	head, count int

	stats Stats
}

// NewTester returns a Tester for cfg, in the StartUp state. It returns an
// error if cfg is invalid or implies a test that cannot fail.
func NewTester(cfg Config) (*Tester, error) {
	cfg, cut, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	t := &Tester{
		cfg:  cfg,
		cut:  cut,
		mask: byte(1<<cfg.BitsPerSample - 1),
	}
	if cfg.PermanentAfter > 1 {
		t.recent = make([]int64, cfg.PermanentAfter-1)
	}
	t.stats.RCT.Cutoff, t.stats.RCT.PermanentCutoff = cut.rct, cut.rctPerm
	t.stats.APT.Cutoff, t.stats.APT.PermanentCutoff = cut.apt, cut.aptPerm
	t.startUp()
	return t, nil
}

// Config returns the configuration in use, defaults filled in.
func (t *Tester) Config() Config { return t.cfg }

// Write feeds samples, one per byte, to the tests. It stops after the first
// sample that fails and returns the number of samples consumed, that one
// included, and a *Failure; otherwise it returns len(samples), nil. After an
// intermittent failure the Tester is in StartUp again and the next call
// continues the stream; after a permanent one every call returns the same
// *Failure, consuming nothing, until Restore.
//
// Write only tests: use [Tester.Test] to learn which samples of a block may
// be used.
func (t *Tester) Write(samples []byte) (n int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.write(samples)
}

// Test feeds a whole block to the tests and returns the part of it that may
// be used: block itself once the Tester is Operational, the samples after the
// end of a start-up test while one runs. If any sample fails, Test still
// feeds the rest of the block (so a source stuck inside one block reaches
// its permanent failure in that block), discards the whole block and returns
// nil and the first permanent failure, or else the first intermittent one.
// The consumer then:
//
//   - on ErrIntermittent, discards the block, which Test already did, and
//     reads on; the Tester re-runs the start-up test on what follows;
//   - on ErrPermanent, stops using the source until an operator or a policy
//     calls [Tester.Restore].
func (t *Tester) Test(block []byte) (usable []byte, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	skip := 0
	if t.state == StartUp {
		skip = min(t.startLeft, len(block))
	}
	var first *Failure
	for p := block; ; {
		n, err := t.write(p)
		if err == nil {
			break
		}
		f := err.(*Failure)
		if first == nil || (f.Kind == Permanent && first.Kind != Permanent) {
			first = f
		}
		if t.state == Failed {
			break
		}
		p = p[n:]
	}
	if first != nil {
		return nil, first
	}
	return block[skip:], nil
}

// State returns the Tester's state.
func (t *Tester) State() State {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state
}

// Restore is the explicit recovery from a permanent failure, for an operator
// or a policy to call: it forgets the tests' state and the recent
// intermittent failures and starts a new start-up test. Restore on a Tester
// that has not failed starts a new start-up test as well. Stats count it.
func (t *Tester) Restore() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rct = rctState{max: t.rct.max}
	t.apt = aptState{max: t.apt.max}
	t.fatal = nil
	t.head, t.count = 0, 0
	t.stats.Restores++
	t.startUp()
}

// startUp begins a start-up test, per SP 800-90B Section 4.3.
func (t *Tester) startUp() {
	t.state = StartUp
	t.startLeft = StartUpSamples
	t.stats.StartUps++
}

// write is Write with t.mu held.
func (t *Tester) write(p []byte) (int, error) {
	if t.state == Failed {
		return 0, t.fatal
	}
	n, rctFailed, aptFailed := t.scan(p)
	t.pos += int64(n)
	t.stats.Samples += int64(n)
	if !rctFailed && !aptFailed {
		t.pass(n)
		return n, nil
	}
	t.pass(n - 1)
	f := t.failure(rctFailed, aptFailed)
	return n, f
}

// scan runs both tests over p and stops after the first sample that fails
// either. It returns the number of samples consumed and which tests the
// last one failed.
func (t *Tester) scan(p []byte) (n int, rctFailed, aptFailed bool) {
	if t.mask != 0xff {
		for i, x := range p {
			x &= t.mask
			rctFailed = t.rct.step(x, t.cut.rct)
			aptFailed = t.apt.step(x, t.cfg.Window, t.cut.apt)
			if rctFailed || aptFailed {
				return i + 1, rctFailed, aptFailed
			}
		}
		return len(p), false, false
	}
	// 8-bit samples: find the APT's first failure on a copy of its state,
	// run the RCT up to there, and keep the APT's state if the RCT did not
	// stop earlier.
	apt := t.apt
	na, aptFailed := apt.scan8(p, t.cfg.Window, t.cut.apt)
	nr, rctFailed := t.rct.scan8(p[:na], t.cut.rct)
	if nr == na {
		t.apt = apt
		return na, rctFailed, aptFailed
	}
	if _, failed := t.apt.scan8(p[:nr], t.cfg.Window, t.cut.apt); failed {
		panic("health: internal error: APT failed before its first failure")
	}
	return nr, rctFailed, false
}

// pass accounts for n samples that passed both tests.
func (t *Tester) pass(n int) {
	if t.state != StartUp {
		return
	}
	t.startLeft -= min(n, t.startLeft)
	if t.startLeft == 0 {
		t.state = Operational
	}
}

// failure builds the Failure for the sample just consumed, which failed the
// RCT, the APT or both, records it and moves to the state it calls for. A
// sample that fails both tests is one failure: the permanent one, else the
// RCT's.
func (t *Tester) failure(rctFailed, aptFailed bool) *Failure {
	f := &Failure{Offset: t.pos - 1, StartUp: t.state == StartUp}
	rctKind, aptKind := Intermittent, Intermittent
	if rctFailed && t.rct.b >= t.cut.rctPerm {
		rctKind = Permanent
	}
	if aptFailed && t.apt.b >= t.cut.aptPerm {
		aptKind = Permanent
	}
	if rctFailed && (!aptFailed || rctKind == Permanent || aptKind == Intermittent) {
		f.Test, f.Kind, f.Count, f.Cutoff = RCT, rctKind, t.rct.b, t.cut.rct
		if rctKind == Permanent {
			f.Cutoff = t.cut.rctPerm
		}
	} else {
		f.Test, f.Kind, f.Count, f.Cutoff = APT, aptKind, t.apt.b, t.cut.apt
		if aptKind == Permanent {
			f.Cutoff = t.cut.aptPerm
		}
	}
	if f.Kind == Intermittent && t.escalate(f.Offset) {
		f.Kind, f.Escalated = Permanent, true
	}

	ts := &t.stats.RCT
	if f.Test == APT {
		ts = &t.stats.APT
	}
	if f.Kind == Permanent {
		ts.Permanent++
		t.state, t.fatal = Failed, f
	} else {
		ts.Intermittent++
		t.startUp()
	}
	return f
}

// escalate records an intermittent failure at offset off and reports
// whether it is the PermanentAfter-th within Period samples.
func (t *Tester) escalate(off int64) bool {
	k := t.cfg.PermanentAfter
	switch {
	case k == 0:
		return false
	case k == 1:
		return true
	}
	if t.count == len(t.recent) && off-t.recent[t.head] < t.cfg.Period {
		return true
	}
	if t.count == len(t.recent) {
		t.recent[t.head] = off
		t.head = (t.head + 1) % len(t.recent)
	} else {
		t.recent[(t.head+t.count)%len(t.recent)] = off
		t.count++
	}
	return false
}
