package hsmrand

import (
	"fmt"
	"time"

	"github.com/hsmentropy/hsmentropy/health"
	"github.com/hsmentropy/hsmentropy/hsmrand/internal/p11"
)

// State is where a Reader stands; [Stats] reports it and
// Options.OnStateChange is told of every change.
type State int

const (
	// StateHealthy: the HSM supplies health-tested bytes.
	StateHealthy State = iota
	// StateSourceDown: the HSM is not answering (or its output failed an
	// intermittent health test and is being re-tested). Output still rests
	// on earlier HSM seeds; reads that need fresh HSM bytes take them from
	// the buffer while it lasts, then wait (FailClosed) or degrade.
	StateSourceDown
	// StateDegraded (Degrade policy): seedings since the HSM failed used the
	// OS source alone.
	StateDegraded
	// StateFailed (FailClosed): a permanent failure; every read fails.
	StateFailed
	// StateClosed: Close was called.
	StateClosed
)

func (s State) String() string {
	switch s {
	case StateHealthy:
		return "healthy"
	case StateSourceDown:
		return "source-down"
	case StateDegraded:
		return "degraded"
	case StateFailed:
		return "failed"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Stats is a snapshot of a Reader's counters, all since New or Open.
type Stats struct {
	State  State
	Policy Policy

	// Reads counts successful Read and GetRandom calls; BytesServed their
	// bytes (the mixer's counts, see mixer.Stats for their lag while reads
	// are in flight). ReadErrors counts failed ones, ErrClosed aside.
	Reads, BytesServed, ReadErrors uint64

	// HSMCalls counts requests to the HSM (of up to MaxHSMRequest bytes:
	// one C_GenerateRandom call, or several for a token with a smaller
	// request limit; or reads of the primary io.Reader), the refiller's
	// and GetRandom's live ones (LiveCalls), HSMBytes the bytes they
	// returned; HSMLatency is their total duration and HSMMaxLatency the
	// longest. HSMErrors counts the requests that failed.
	HSMCalls, HSMBytes, HSMErrors uint64
	HSMLatency, HSMMaxLatency     time.Duration
	// HSMBuffered is the number of health-tested HSM bytes ready now;
	// HSMUsed the HSM bytes handed to the mixer (each once, then wiped).
	HSMBuffered int
	HSMUsed     uint64

	// Reseeds counts the mixer's reseeds (by policy and for prediction
	// resistance); OSOnlySeeds those, and instantiations, that used the OS
	// source alone (Degrade policy); DegradedShards the shards whose
	// current seed rests on the OS alone.
	Reseeds, OSOnlySeeds uint64
	DegradedShards       int

	// HealthFailures counts SP 800-90B health-test failures of the HSM
	// stream (intermittent and permanent); Quarantined the HSM bytes wiped
	// unused because of them. Health is the tester's own snapshot.
	HealthFailures, Quarantined uint64
	Health                      health.Stats

	// GetRandomOSOnly counts the GetRandom calls that returned output
	// generated after a reseed from the OS alone (only with
	// Options.AllowOSOnlyGetRandom; otherwise such calls fail). LiveCalls
	// counts, among HSMCalls, the requests GetRandom made itself
	// (Options.LiveGetRandom).
	GetRandomOSOnly, LiveCalls uint64

	// Expired counts the HSM bytes wiped unused because they waited in the
	// buffer longer than Options.MaxBufferAge.
	Expired uint64

	// Probes counts the liveness probes that the HSM answered with healthy
	// bytes (Options.ProbeInterval); failed ones count in HSMErrors.
	Probes uint64

	// DegradedTime is the total time spent in StateDegraded, the current
	// spell included. InstalledWaits counts the times an installed Reader
	// waited instead of returning an error to crypto/rand.
	DegradedTime   time.Duration
	InstalledWaits uint64

	// LastError is the last HSM or health failure (never holds a PIN).
	LastError string

	// Tokens holds one entry per PKCS#11 token of a Reader made by [Open],
	// in configuration order; it is empty for [New]. Where HSMCalls counts
	// the Reader's requests, a token's Calls counts its C_GenerateRandom
	// calls, and its Errors every fault by return code, those that the
	// token layer recovered from included.
	Tokens []TokenStats
}

// TokenStats is a snapshot of one PKCS#11 token's counters.
type TokenStats struct {
	Label, Serial string // once the token has been found
	Slot          uint   // the slot it was last found in
	// State is "up", "down" (backing off, then looked for again),
	// "failed" (stopped for good: a refused login, no RNG) or "closed".
	State string

	Calls   uint64        // C_GenerateRandom calls that returned
	Bytes   uint64        // the bytes they returned
	Latency time.Duration // their total duration
	Logins  uint64        // C_Login calls made (at most one per session opened)
	// PINCountLow: the token reported CKF_USER_PIN_COUNT_LOW before the
	// last login: a login failed since the last good one, and a few more
	// wrong PINs lock the token.
	PINCountLow bool

	// MaxRequest is the largest C_GenerateRandom call now made to the
	// token, in bytes: Config.MaxRequest (or the URI's x-max-request),
	// MaxHSMRequest by default, or less once the token refused a larger
	// call (those refusals count in Errors, and are not faults).
	MaxRequest int

	Reopens    uint64 // sessions replaced after CKR_SESSION_CLOSED and the like
	Recoveries uint64 // times the token was found again after being down
	// Reinitializations counts the module re-initialisations (C_Finalize,
	// C_Initialize) this token made to recover (see the package doc).
	Reinitializations uint64

	// Errors counts faults by return code name ("CKR_DEVICE_REMOVED"),
	// "bad-block" for output that failed the block checks (short, all
	// zero, repeated) and "token-not-found".
	Errors    map[string]uint64
	LastError string // never holds a PIN
}

// tokenStats converts the token layer's snapshots.
func tokenStats(ps []p11.Stats) []TokenStats {
	ts := make([]TokenStats, len(ps))
	for i, p := range ps {
		ts[i] = TokenStats{
			Label: p.Label, Serial: p.Serial, Slot: p.Slot, State: p.State.String(),
			Calls: p.Calls, Bytes: p.Bytes, Latency: p.Latency, Logins: p.Logins, MaxRequest: p.MaxRequest, PINCountLow: p.PINCountLow,
			Reopens: p.Reopens, Recoveries: p.Recoveries, Reinitializations: p.Reinitializations,
			Errors: p.Errors, LastError: p.LastError,
		}
	}
	return ts
}

// MeanHSMLatency returns HSMLatency / HSMCalls, or 0 before any call.
func (s Stats) MeanHSMLatency() time.Duration {
	if s.HSMCalls == 0 {
		return 0
	}
	return s.HSMLatency / time.Duration(s.HSMCalls)
}

// Stats returns a snapshot of the counters. It never waits for a read in
// progress and may be called from Options.OnStateChange.
func (r *Reader) Stats() Stats {
	m := r.mx.Stats()
	p := r.pool.stats()
	h := r.pool.tester.Stats()
	st := Stats{
		Policy:         r.cfg.policy,
		Reads:          m.Reads,
		BytesServed:    m.BytesServed,
		ReadErrors:     m.ReadErrors + r.live.failed.Load(),
		HSMCalls:       p.calls,
		HSMBytes:       p.bytes,
		HSMErrors:      p.errors,
		HSMLatency:     p.latency,
		HSMMaxLatency:  p.maxLatency,
		HSMBuffered:    p.buffered,
		HSMUsed:        p.used,
		Reseeds:        m.Reseeds,
		OSOnlySeeds:    m.OSOnlySeeds,
		DegradedShards: m.DegradedShards,
		HealthFailures: uint64(h.RCT.Intermittent + h.RCT.Permanent + h.APT.Intermittent + h.APT.Permanent),
		Quarantined:    p.quarantined,
		Expired:        p.expired,
		Probes:         p.probes,
		Health:         h,
		InstalledWaits: r.installedWaits.Load(),

		GetRandomOSOnly: r.getRandomOSOnly.Load(),
		LiveCalls:       r.live.calls.Load(),
		LastError:       p.lastError,
	}
	st.State, st.DegradedTime = r.state.snapshot()
	switch src := r.pool.src.(type) {
	case *p11.Token:
		st.Tokens = tokenStats([]p11.Stats{src.Stats()})
	case *p11.Pool:
		st.Tokens = tokenStats(src.Stats())
	}
	return st
}
