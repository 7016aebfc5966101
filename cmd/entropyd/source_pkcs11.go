package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

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
			return hsmrand.Config{}, fmt.Errorf("--pkcs11-from-env: %w", err)
		}
	}
	pin, havePIN := os.LookupEnv(pinEnv)
	switch {
	case cfg.pinFile != "" && havePIN:
		clear(hc.PIN)
		return hsmrand.Config{}, usageError("both --pin-file and %s are set; give the PIN one way", pinEnv)
	case cfg.pinFile != "":
		abs, err := filepath.Abs(cfg.pinFile)
		if err != nil {
			return hsmrand.Config{}, fmt.Errorf("--pin-file: %w", err)
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
	return hc, nil
}

// pkcs11Source is an open hsmrand Reader. It is opened once, at start, so
// that a configuration error (a wrong PIN above all: retries lock tokens) ends
// entropyd at once; afterwards hsmrand reconnects by itself, and the worker's
// reopenings hand back the same Reader.
type pkcs11Source struct {
	once sync.Once
	r    *hsmrand.Reader
}

// openPKCS11 opens the token cfg names, waiting at most --startup-timeout
// for its start-up health test.
func openPKCS11(ctx context.Context, cfg *runConfig) (*pkcs11Source, error) {
	hc, err := pkcs11Config(cfg)
	if err != nil {
		return nil, err
	}
	defer clear(hc.PIN)
	ctx, cancel := context.WithTimeout(ctx, cfg.startupTimeout)
	defer cancel()
	r, err := hsmrand.Open(ctx, hc)
	if err != nil {
		return nil, fmt.Errorf("PKCS#11 source %v: %w", hc, err)
	}
	return &pkcs11Source{r: r}, nil
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
