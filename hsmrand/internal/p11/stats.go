package p11

import (
	"maps"
	"time"
)

// Stats is a snapshot of one token's counters and health, for metrics.
type Stats struct {
	Label  string // the token's label, once found
	Serial string // the token's serial number, once found
	Slot   uint   // the slot the token was last found in
	State  State

	Calls   uint64        // C_GenerateRandom calls that returned
	Bytes   uint64        // bytes those calls returned (requests are at least 32 bytes)
	Latency time.Duration // total time spent in those calls
	Logins  uint64        // C_Login calls made
	// PINCountLow: the token reported CKF_USER_PIN_COUNT_LOW when it was
	// last found, before logging in: a login has failed since the last
	// good one, and a few more wrong PINs lock it.
	PINCountLow bool

	// MaxRequest is the largest C_GenerateRandom request now made to the
	// token: Config.MaxRequest (MaxChunk by default), or less once the
	// token refused a larger request (its refusals count in Errors).
	MaxRequest int

	Reopens    uint64 // sessions replaced after CKR_SESSION_CLOSED and the like
	Recoveries uint64 // times the token was found again after being down
	// Reinitializations counts the module re-initialisations (C_Finalize
	// and C_Initialize) this token made to recover from a module-wide
	// failure.
	Reinitializations uint64

	// Errors counts failures by CK_RV name ("CKR_DEVICE_REMOVED") or, for
	// the output checks, "bad-block"; a token not found counts as
	// "token-not-found".
	Errors    map[string]uint64
	LastError string    // the last fault's message (never holds a PIN)
	RetryAt   time.Time // when a token that is down is looked for again
}

// counters are the Token's running totals, and the request limit it has
// learned; guarded by Token.mu.
type counters struct {
	calls, bytes, logins, reopens, recoveries, reinits uint64
	latency                                            time.Duration
	errors                                             map[string]uint64
	lastError                                          string
	maxRequest                                         int // 0: Config.MaxRequest; see limit.go
}

// Stats returns a snapshot of the token's counters and state.
func (t *Token) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := Stats{
		Label: t.label, Serial: t.serial, Slot: t.slot, State: t.state,
		Calls: t.st.calls, Bytes: t.st.bytes, Latency: t.st.latency, Logins: t.st.logins,
		MaxRequest: t.maxRequestLocked(), PINCountLow: t.pinCountLow,
		Reopens: t.st.reopens, Recoveries: t.st.recoveries, Reinitializations: t.st.reinits,
		Errors: maps.Clone(t.st.errors), LastError: t.st.lastError,
	}
	if t.state == StateDown {
		s.RetryAt = t.retryAt
	}
	return s
}
