package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/hsmentropy/hsmentropy/health"
	"github.com/hsmentropy/hsmentropy/hsmrand"
)

// pkcs11SourceName names the PKCS#11 source in logs and metrics.
const pkcs11SourceName = "pkcs11"

// pkcs11Config builds hsmrand's Config from --pkcs11-uri (or, with
// --pkcs11-from-env, hsmrand's and Vault's environment variables) and the
// PIN from --pin-file or ENTROPYD_PIN. The caller wipes the PIN.
func pkcs11Config(cfg *runConfig) (hsmrand.Config, error) {
	var hc hsmrand.Config
	if cfg.pkcs11URI != "" {
		hc.URI = cfg.pkcs11URI
	} else {
		var err error
		if hc, err = hsmrand.ConfigFromEnv(os.Getenv); err != nil {
			return hsmrand.Config{}, usageError("%s: %v", cfg.from("pkcs11-from-env"), err)
		}
	}
	pin, havePIN := os.LookupEnv(pinEnv)
	switch {
	case cfg.pinFile != "" && havePIN:
		clear(hc.PIN)
		return hsmrand.Config{}, usageError("both %s and %s are set; give the PIN one way", cfg.from("pin-file"), pinEnv)
	case cfg.pinFile != "":
		abs, err := filepath.Abs(cfg.pinFile)
		if err == nil {
			err = checkPINFile(abs)
		}
		if err != nil {
			clear(hc.PIN)
			return hsmrand.Config{}, usageError("%s: %v", cfg.from("pin-file"), err)
		}
		hc.PINSource = "file:" + abs
	case havePIN:
		// The variable stays set, for a reload; the environment cannot be
		// wiped anyway (/proc/PID/environ keeps it). --pin-file is better.
		hc.PIN = []byte(pin)
	}
	// One shard, prediction resistance: every read takes fresh token bytes,
	// so the source is as fast as the token and no faster.
	hc.Policy = hsmrand.FailClosed
	hc.PredictionResistance = true
	hc.Shards = 1
	hc.Deadline = cfg.sourceTimeout
	// Buffered token bytes last no longer than a feed period: the token is
	// asked at least once a period, so an outage shows in the state and the
	// metrics by the next feed, and no seed material waits longer.
	hc.MaxBufferAge = cfg.feedInterval
	return hc, nil
}

// pkcs11Source is an open hsmrand Reader. It is opened once, at start, so
// that a configuration error (a wrong PIN above all: retries lock tokens) ends
// entropyd at once; afterwards hsmrand reconnects by itself, and the worker's
// reopenings hand back the same Reader.
//
// The token's own state (hsmrand's, from Options.OnStateChange) drives the
// source's: the worker reads only as fast as the daemon uses bytes, so
// without it an outage would show only when the worker next read. When
// hsmrand's stream goes down the source is reconnecting; when it is healthy
// again the source is healthy again, which makes the daemon feed at once.
type pkcs11Source struct {
	once sync.Once
	r    *hsmrand.Reader
	// state is hsmrand's State; src is the worker's source once it exists.
	state atomic.Int32
	src   atomic.Pointer[source]
}

// onStateChange is hsmrand's OnStateChange hook: it runs with hsmrand's
// locks held, so it only swaps atomics and signals the daemon.
func (p *pkcs11Source) onStateChange(_, to hsmrand.State, cause error) {
	p.state.Store(int32(to))
	s := p.src.Load()
	if s == nil {
		return
	}
	switch st := s.getState(); {
	case to != hsmrand.StateHealthy && st == stateHealthy:
		msg := "the token is not delivering; going on with the other sources"
		if cause != nil {
			s.log.Warn(msg, "state", to.String(), "err", cause)
		} else {
			s.log.Warn(msg, "state", to.String())
		}
		s.setState(stateReconnecting)
	case to == hsmrand.StateHealthy && st == stateReconnecting && s.tester.State() == health.Operational:
		s.log.Info("the token is delivering again")
		s.setState(stateHealthy)
	}
}

// attach connects the worker's source, whose state follows the token's.
func (p *pkcs11Source) attach(s *source) {
	s.upstreamOK = func() bool { return hsmrand.State(p.state.Load()) == hsmrand.StateHealthy }
	p.src.Store(s)
}

// openPKCS11 opens the token cfg names, waiting at most --startup-timeout
// for its start-up health test.
func openPKCS11(ctx context.Context, cfg *runConfig) (*pkcs11Source, error) {
	hc, err := pkcs11Config(cfg)
	if err != nil {
		return nil, err
	}
	defer clear(hc.PIN)
	p := &pkcs11Source{}
	hc.OnStateChange = p.onStateChange
	ctx, cancel := context.WithTimeout(ctx, cfg.startupTimeout)
	defer cancel()
	r, err := hsmrand.Open(ctx, hc)
	if err != nil {
		// Not hc: the error names what the user gave, not a Go value.
		_, envPIN := os.LookupEnv(pinEnv)
		return nil, fmt.Errorf("PKCS#11 token (%s): %w%s", cfg.tokenOrigin(), err, cfg.pinHint(err, envPIN))
	}
	p.r = r
	return p, nil
}

// open is an opener: the same Reader every time, closed only by Close.
func (p *pkcs11Source) open(context.Context) (io.ReadCloser, error) {
	return pkcs11Stream{p.r}, nil
}

// Close closes the Reader.
func (p *pkcs11Source) Close() error {
	var err error
	p.once.Do(func() { err = p.r.Close() })
	return err
}

// pkcs11Stream reads the Reader; a permanent failure (a refused login, a
// health failure, under hsmrand's FailClosed policy sticky) takes the
// source out for good.
type pkcs11Stream struct{ r *hsmrand.Reader }

func (s pkcs11Stream) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if errors.Is(err, hsmrand.ErrSourceFailed) || errors.Is(err, hsmrand.ErrHealthFailure) || errors.Is(err, hsmrand.ErrClosed) {
		err = fmt.Errorf("%w: %w", errExhausted, err)
	}
	return n, err
}

func (pkcs11Stream) Close() error { return nil }
