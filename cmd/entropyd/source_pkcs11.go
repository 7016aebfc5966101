package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/hsmentropy/hsmentropy/hsmrand"
	"github.com/hsmentropy/hsmentropy/internal/engine"
)

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
	// (early boot): see engine.OSReader.
	hc.OS = engine.OSReader()
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

// openPKCS11 opens the token cfg names, waiting at most --startup-timeout
// for its start-up health test.
func openPKCS11(ctx context.Context, cfg *runConfig, log *slog.Logger) (*engine.PKCS11Source, error) {
	hc, err := pkcs11Config(cfg)
	if err != nil {
		return nil, err
	}
	defer clear(hc.PIN)
	ctx, cancel := context.WithTimeout(ctx, cfg.startupTimeout)
	defer cancel()
	p, err := engine.OpenPKCS11(ctx, hc)
	if err != nil {
		// Not hc: the error names what the user gave, not a Go value.
		_, envPIN := os.LookupEnv(pinEnv)
		return nil, fmt.Errorf("PKCS#11 token (%s): %w%s", cfg.tokenOrigin(), err, cfg.pinHint(err, envPIN))
	}
	for _, t := range p.HSMStats().Tokens {
		if t.PINCountLow {
			log.With("source", engine.PKCS11Name).Warn("the token reported CKF_USER_PIN_COUNT_LOW before the login: a wrong PIN was given since the last good login, and a few more lock it",
				"token", t.Label, "serial", t.Serial)
		}
	}
	return p, nil
}
