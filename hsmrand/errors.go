package hsmrand

import "errors"

// Sentinel errors that callers branch on with errors.Is.
var (
	// ErrClosed is returned by every Read and GetRandom after Close.
	ErrClosed = errors.New("hsmrand: closed")

	// ErrUnavailable: under FailClosed, a read needed fresh HSM bytes and
	// none came within Options.Deadline (the HSM is down or too slow). It
	// is not sticky: the next read tries again.
	ErrUnavailable = errors.New("hsmrand: no healthy HSM bytes available")

	// ErrHealthFailure: the HSM's output failed the SP 800-90B continuous
	// health tests permanently (the error also wraps the *health.Failure).
	// Under FailClosed it is sticky: every later read returns it.
	ErrHealthFailure = errors.New("hsmrand: HSM output failed its health tests")

	// ErrSourceFailed: the HSM stopped for good (a PIN refused at a
	// re-login, the token's RNG gone, the source exhausted). Under
	// FailClosed it is sticky.
	ErrSourceFailed = errors.New("hsmrand: HSM source failed for good")
)
