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
	// An empty variable counts as unset.
	pin := os.Getenv(pinEnv)
	havePIN := pin != ""
	vaultPIN := cfg.pkcs11URI == "" && os.Getenv("VAULT_HSM_PIN") != ""
	switch {
	case cfg.pinFile != "" && havePIN:
		clear(hc.PIN)
		return hsmrand.Config{}, usageError("both %s and %s are set; give the PIN one way", cfg.from("pin-file"), pinEnv)
	case vaultPIN && (cfg.pinFile != "" || havePIN):
		// One PIN must win, and a silent choice could present the wrong
		// one to the token: refuse, naming both (never their values).
		clear(hc.PIN)
		other := pinEnv
		if !havePIN {
			other = cfg.from("pin-file")
		}
		return hsmrand.Config{}, usageError("both VAULT_HSM_PIN (read with --pkcs11-from-env) and %s are set; give the PIN one way", other)
	case cfg.pinFile != "":
		abs, err := filepath.Abs(cfg.pinFile)
		if err == nil {
			err = checkPINFile(abs)
		}
		switch {
		case errors.Is(err, hsmrand.ErrLogin):
			clear(hc.PIN)
			return hsmrand.Config{}, fmt.Errorf("%s: %w", cfg.from("pin-file"), err)
		case err != nil:
			clear(hc.PIN)
			return hsmrand.Config{}, usageError("%s: %v", cfg.from("pin-file"), err)
		}
		hc.PINSource = "file:" + abs
	case havePIN:
		// The variable stays set, for a reload; the environment cannot be
		// wiped anyway (/proc/PID/environ keeps it). --pin-file is better.
		hc.PIN = []byte(pin)
	}
	if cfg.pkcs11MaxReq != 0 {
		hc.MaxRequest = cfg.pkcs11MaxReq
	}
	// One shard, prediction resistance: every read takes fresh token bytes,
	// so the source is as fast as the token and no faster.
	hc.Policy = hsmrand.FailClosed
	hc.PredictionResistance = true
	hc.Shards = 1
	// The mixer's OS input must not wait for the kernel RNG to be ready
	// (early boot): see kernelRandom.
	hc.OS = osInput()
	hc.Deadline = cfg.sourceTimeout
	// Buffered token bytes last no longer than a feed period: no seed
	// material waits longer, and the token is asked at least once a
	// period. A feed takes 48 HSM bytes, so the smallest buffer hsmrand
	// allows (2 KiB, 42 feeds) is plenty; a larger one would only be drawn
	// and wiped unused every period, at a fleet's cost on the HSM. The
	// probe shows an outage within its interval when the period is longer.
	hc.MaxBufferAge = cfg.feedInterval
	hc.HSMBuffer = hsmrand.MinHSMBuffer
	hc.ProbeInterval = cfg.pkcs11Probe
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

	mu      sync.Mutex
	changed chan struct{} // closed and replaced at every change of state
}

// signal wakes the worker waiting in waitHealthy.
func (p *pkcs11Source) signal() {
	p.mu.Lock()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// waitHealthy is the source's upstreamWait: it returns when hsmrand's
// stream is healthy, or has ended for good (the next read then says why),
// or false when ctx ends.
func (p *pkcs11Source) waitHealthy(ctx context.Context) bool {
	for {
		p.mu.Lock()
		ch := p.changed
		p.mu.Unlock()
		switch hsmrand.State(p.state.Load()) {
		case hsmrand.StateHealthy, hsmrand.StateFailed, hsmrand.StateClosed:
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-ch:
		}
	}
}

// onStateChange is hsmrand's OnStateChange hook: it runs with hsmrand's
// locks held, so it only swaps atomics and signals the daemon.
func (p *pkcs11Source) onStateChange(_, to hsmrand.State, cause error) {
	p.state.Store(int32(to))
	p.signal()
	s := p.src.Load()
	if s == nil {
		return
	}
	switch st := s.getState(); {
	case to == hsmrand.StateClosed:
		// entropyd closed the Reader: a stop, not an outage.
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
	s.upstreamWait = p.waitHealthy
	p.src.Store(s)
	for _, t := range p.r.Stats().Tokens {
		if t.PINCountLow {
			s.log.Warn("the token reported CKF_USER_PIN_COUNT_LOW before the login: a wrong PIN was given since the last good login, and a few more lock it",
				"token", t.Label, "serial", t.Serial)
		}
	}
}

// openPKCS11 opens the token cfg names, waiting at most --startup-timeout
// for its start-up health test.
func openPKCS11(ctx context.Context, cfg *runConfig) (*pkcs11Source, error) {
	hc, err := pkcs11Config(cfg)
	if err != nil {
		return nil, err
	}
	defer clear(hc.PIN)
	p := &pkcs11Source{changed: make(chan struct{})}
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
