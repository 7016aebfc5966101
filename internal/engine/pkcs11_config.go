package engine

import (
	"time"

	"github.com/hsmentropy/hsmentropy/hsmrand"
)

// PKCS11Options are the engine's settings of a token source.
type PKCS11Options struct {
	// FeedInterval is the engine's feed period: buffered token bytes last
	// no longer.
	FeedInterval time.Duration
	// Deadline bounds a token call (the engine's SourceTimeout).
	Deadline time.Duration
	// ProbeInterval is hsmrand's Config.ProbeInterval.
	ProbeInterval time.Duration
	// MaxRequest is hsmrand's Config.MaxRequest; 0 keeps hc's.
	MaxRequest int
}

// PKCS11Config returns hc, which names the token and the PIN, with the
// settings an engine source needs; OpenPKCS11 opens the result.
//
// One shard, prediction resistance: every read takes fresh token bytes, so
// the source is as fast as the token and no faster; failures close it
// (FailClosed). The mixer's OS input is OSReader, which does not wait for
// the kernel RNG to be ready (early boot).
//
// Buffered token bytes last no longer than a feed period: no seed material
// waits longer, and the token is asked at least once a period. A feed takes
// 48 HSM bytes, so the smallest buffer hsmrand allows (2 KiB, 42 feeds) is
// plenty; a larger one would only be drawn and wiped unused every period,
// at a fleet's cost on the HSM. The probe shows an outage within its
// interval when the period is longer.
func PKCS11Config(hc hsmrand.Config, o PKCS11Options) hsmrand.Config {
	if o.MaxRequest != 0 {
		hc.MaxRequest = o.MaxRequest
	}
	hc.Policy = hsmrand.FailClosed
	hc.PredictionResistance = true
	hc.Shards = 1
	hc.OS = OSReader()
	hc.Deadline = o.Deadline
	hc.MaxBufferAge = o.FeedInterval
	hc.HSMBuffer = hsmrand.MinHSMBuffer
	hc.ProbeInterval = o.ProbeInterval
	return hc
}

// CloseSources closes the sources of specs that hold something open (an
// io.Closer), for a caller whose New failed or was never called.
func CloseSources(specs []Spec) {
	for _, s := range specs {
		if c, ok := s.Source.(interface{ Close() error }); ok {
			c.Close()
		}
	}
}
