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
	// A PIN in hc comes from Vault's VAULT_HSM_PIN, which ConfigFromEnv
	// (the one reader of Vault's variables) read for --pkcs11-from-env.
	vaultPIN := len(hc.PIN) > 0
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
	return engine.PKCS11Config(hc, engine.PKCS11Options{
		FeedInterval: cfg.feedInterval, Deadline: cfg.sourceTimeout,
		ProbeInterval: cfg.pkcs11Probe, MaxRequest: cfg.pkcs11MaxReq,
	}), nil
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
