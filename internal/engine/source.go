package engine

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/hsmentropy/hsmentropy/hsmrand"
)

// MaxChunk bounds a source's read size: the cap of one PKCS#11 call (64 KiB).
const MaxChunk = hsmrand.MaxHSMRequest

// A Source is one entropy source: a byte stream the engine opens, reads in
// chunks, health-tests and mixes. The engine calls Open again after a read
// error; an error wrapping ErrExhausted takes the source out for good.
//
// A Source may also implement Closer (io.Closer: released when the engine
// stops), HSMStatser, Upstream and Crediter; the engine finds them by type
// assertion.
type Source interface {
	// Name names the source in logs and metrics ("hwrng", "file:PATH").
	Name() string
	// Open opens the source's byte stream.
	Open(ctx context.Context) (io.ReadCloser, error)
}

// HSMStatser is a Source backed by an hsmrand Reader: its own counters (its
// requests to the token and the health tests of the raw token bytes, which
// the engine's tester, on hsmrand's mixed output, cannot see) are reported
// beside the source's, and readiness asks that one such source be healthy.
type HSMStatser interface {
	HSMStats() hsmrand.Stats
}

// Upstream is a Source whose stream keeps its own health state and recovers
// on its own clock (hsmrand's back-off and probe). The source is healthy
// only while its upstream is; after a read error the engine waits for the
// upstream instead of backing off a second time, so that the source is read
// again at once when the upstream has recovered.
type Upstream interface {
	// UpstreamHealthy reports whether the upstream is healthy now.
	UpstreamHealthy() bool
	// WaitUpstream returns when the upstream is healthy or has ended for
	// good (the next read says why), or false when ctx ends.
	WaitUpstream(ctx context.Context) bool
	// WatchUpstream registers f, called (without blocking) when the
	// upstream goes down (up false, with its state's name and cause) or is
	// healthy again.
	WatchUpstream(f func(up bool, state string, cause error))
}

// Crediter is a Source of which each delivered byte rests on less than one
// byte of its own input, such as the 48 HSM bytes of one hsmrand reseed
// behind the bytes of one read. A feed's credit rests on it. Without it a
// source's ratio is 1 (a raw device or file).
type Crediter interface {
	// InputPerByte is how many bytes of input stand behind each byte
	// delivered, at most 1.
	InputPerByte(chunk int) float64
}

// Buffered is a Source that sets the size of the ring holding its tested
// bytes until a feed takes them; without it the ring holds 4 chunks and at
// least a start-up test's samples.
type Buffered interface {
	RingSize(chunk int) int
}

// ErrExhausted reports a source that has nothing more to give.
var ErrExhausted = errors.New("source used up")

// State is where a source stands.
type State int32

const (
	// StateDegraded: the start-up test runs (at start, after an
	// intermittent failure or a restore); no byte is used until it passes.
	StateDegraded State = iota
	// StateHealthy: the source passes its health tests and its bytes are
	// used.
	StateHealthy
	// StateFailed: a permanent health failure, or a source that cannot
	// deliver again (a used-up file); it is out of service.
	StateFailed
	// StateReconnecting: a read or open failed; the source is reopened
	// with a back-off.
	StateReconnecting
)

// States lists the states in metric order.
var States = []State{StateHealthy, StateDegraded, StateFailed, StateReconnecting}

func (s State) String() string {
	switch s {
	case StateHealthy:
		return "healthy"
	case StateDegraded:
		return "degraded"
	case StateFailed:
		return "failed"
	case StateReconnecting:
		return "reconnecting"
	}
	return fmt.Sprintf("State(%d)", int32(s))
}
