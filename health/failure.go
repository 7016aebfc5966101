package health

import (
	"errors"
	"fmt"
)

// Sentinels a consumer branches on with errors.Is: every error a [Tester]
// returns for a failed health test is a [*Failure] that matches exactly one
// of them.
var (
	// ErrIntermittent marks an intermittent failure: discard the block that
	// failed; the Tester re-runs the start-up test on the samples that follow.
	ErrIntermittent = errors.New("health: intermittent health test failure")
	// ErrPermanent marks a permanent failure: take the source out of service
	// until an operator or a policy calls [Tester.Restore].
	ErrPermanent = errors.New("health: permanent health test failure")
)

// TestName identifies one of the continuous health tests.
type TestName uint8

const (
	// RCT is the Repetition Count Test, SP 800-90B §4.4.1.
	RCT TestName = iota + 1
	// APT is the Adaptive Proportion Test, SP 800-90B §4.4.2.
	APT
)

func (n TestName) String() string {
	switch n {
	case RCT:
		return "repetition count test"
	case APT:
		return "adaptive proportion test"
	}
	return fmt.Sprintf("TestName(%d)", uint8(n))
}

// Kind says how severe a failure is.
type Kind uint8

const (
	// Intermittent failures reach the cutoff for the intermittent alpha.
	Intermittent Kind = iota + 1
	// Permanent failures reach the cutoff for the permanent alpha, or are the
	// Config.PermanentAfter-th intermittent failure within Config.Period samples.
	Permanent
)

func (k Kind) String() string {
	switch k {
	case Intermittent:
		return "intermittent"
	case Permanent:
		return "permanent"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Failure describes one failing sample. Its value is never changed after a
// Tester returns it.
type Failure struct {
	Test TestName
	Kind Kind
	// Offset is the failing sample's index in the stream of samples the
	// Tester has consumed since NewTester, counting from 0.
	Offset int64
	// Count is the run length (RCT) or the number of occurrences of the
	// window's first sample so far in the window (APT), the failing sample
	// included.
	Count int
	// Cutoff is the cutoff Count reached: the intermittent or the permanent
	// one, per Kind; for an escalated failure the intermittent one.
	Cutoff int
	// StartUp is set when the sample was part of a start-up test (§4.3).
	StartUp bool
	// Escalated is set when the failure is permanent because it was the
	// Config.PermanentAfter-th intermittent failure within Config.Period
	// samples, not because Count reached the permanent cutoff.
	Escalated bool
}

func (f *Failure) Error() string {
	phase := ""
	if f.StartUp {
		phase = " during start-up"
	}
	if f.Escalated {
		return fmt.Sprintf("health: %s: permanent failure at sample %d%s (count %d, cutoff %d; too many intermittent failures)",
			f.Test, f.Offset, phase, f.Count, f.Cutoff)
	}
	return fmt.Sprintf("health: %s: %s failure at sample %d%s (count %d, cutoff %d)",
		f.Test, f.Kind, f.Offset, phase, f.Count, f.Cutoff)
}

// Is reports whether target is the sentinel for f's Kind.
func (f *Failure) Is(target error) bool {
	switch target {
	case ErrIntermittent:
		return f.Kind == Intermittent
	case ErrPermanent:
		return f.Kind == Permanent
	}
	return false
}
