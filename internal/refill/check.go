package refill

import (
	"errors"

	"github.com/hsmentropy/hsmentropy/health"
)

// Verdict is what the health tests of one block say about its source.
type Verdict int

const (
	// Up: the block passed and the tester is operational; the whole block
	// is usable.
	Up Verdict = iota
	// StartingUp: the block passed while a start-up test ran (SP 800-90B
	// Section 4.3, item 4): only the samples after its end, if any, are
	// usable, and the source is not proven healthy yet.
	StartingUp
	// Intermittent: a sample failed a test and the block was wiped; the
	// tester runs its start-up test again on what follows. The source's
	// owner takes it down (or marks it degraded) until that passes.
	Intermittent
	// Permanent: the tester has failed for good and the block was wiped.
	// The source must not be used again until an operator acts.
	Permanent
)

// Check runs t's health tests on block and says what they mean for the
// source: the usable part of the block, the Verdict, and the failure for
// Intermittent and Permanent (nil otherwise). A failed block is zeroed
// before Check returns, whatever the caller does next. It is the one "test
// a chunk, then change state" step of hsmrand's refiller, its live draws
// and the engine's workers; each maps the Verdict onto its own states.
func Check(t *health.Tester, block []byte) (usable []byte, v Verdict, err error) {
	usable, err = t.Test(block)
	switch {
	case errors.Is(err, health.ErrPermanent):
		clear(block)
		return nil, Permanent, err
	case err != nil:
		clear(block)
		return nil, Intermittent, err
	case t.State() != health.Operational:
		return usable, StartingUp, nil
	}
	return usable, Up, nil
}
