// Package autoinstall makes an HSM-backed hsmrand.Reader the process's
// crypto/rand.Reader as soon as it is imported:
//
//	import _ "github.com/hsmentropy/hsmentropy/hsmrand/autoinstall"
//
// It reads its configuration from the environment, as
// hsmrand.ConfigFromEnv describes: HSMRAND_URI (an RFC 7512 PKCS#11 URI;
// put the PIN in a file named by pin-source), HSMRAND_FAILOVER_URIS, or
// Vault's VAULT_HSM_LIB, VAULT_HSM_SLOT, VAULT_HSM_TOKEN_LABEL and
// VAULT_HSM_PIN; HSMRAND_POLICY ("fail-closed", the default, or
// "degrade") and HSMRAND_DEADLINE (how long to wait for the HSM, "5s").
// It then calls hsmrand.Open and hsmrand.Install.
//
// # What it changes
//
// crypto/rand.Reader, and nothing else unless HSMRAND_KEY_GENERATION=1:
// then Install's KeyGeneration option also routes Go's key generation
// (crypto/ecdsa, crypto/rsa, crypto/ecdh, ...) through the Reader by adding
// cryptocustomrand=1 to GODEBUG, with the consequences hsmrand's package
// doc states (process-wide; ecdh GenerateKey(nil) and the like panic;
// inherited by child processes, for which hsmrand.Environ gives the
// environment without it). Without it, since Go 1.26, ecdsa, rsa and ecdh
// keys come from Go's own generator, which the kernel seeds (entropyd can
// feed the kernel from the HSM).
//
// In Go's FIPS 140-3 mode: under GODEBUG=fips140=only Install refuses
// (Go allows only its own generator), so the program does not start; under
// fips140=on keys stay with Go's approved generator unless
// HSMRAND_KEY_GENERATION=1 asks for them to come from the HSM, outside
// Go's FIPS module. See hsmrand's package doc, "FIPS 140-3 mode".
//
// [Reader] returns the installed Reader, for its Stats.
//
// # Failure
//
// A program that imports this package asked for HSM-backed randomness and
// must not run without it. If the configuration is missing or wrong, or
// the HSM cannot be opened or gives no healthy seed within the deadline,
// or Install refuses, init prints what went wrong and how to fix it to
// standard error, and exits before main runs: with status [ExitPIN] (3)
// when the token refused the PIN or reports it locked (a service manager
// should not restart the program: every start presents the PIN again, and
// retries lock tokens; with systemd, RestartPreventExitStatus=3), and with
// [ExitCode] (2) otherwise. The PIN is never printed.
//
// The Reader lives as long as the process and is never closed. This
// package's init is the module's one init with a side effect: import it
// only from a main package.
package autoinstall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hsmentropy/hsmentropy/hsmrand"
)

const (
	// ExitCode is the status the process exits with when the HSM cannot be
	// used.
	ExitCode = 2
	// ExitPIN is the status when the token refused the PIN, or reports it
	// locked or on its final try (hsmrand.ErrLogin): starting again cannot
	// help, and must not happen automatically.
	ExitPIN = 3
)

// EnvKeyGeneration set to 1 makes Go's key generation draw from the
// Reader too (hsmrand.InstallOptions.KeyGeneration).
const EnvKeyGeneration = "HSMRAND_KEY_GENERATION"

// installedReader is the Reader init installed; set once, before main.
var installedReader *hsmrand.Reader

// Reader returns the Reader this package installed as crypto/rand.Reader,
// for its Stats. It is never nil once main runs: init stops the process
// otherwise.
func Reader() *hsmrand.Reader { return installedReader }

func init() {
	r, err := install(os.Getenv)
	if err != nil {
		report(os.Stderr, err)
		os.Exit(exitStatus(err))
	}
	installedReader = r
}

// exitStatus is ExitPIN for a refused or locked PIN, ExitCode otherwise.
func exitStatus(err error) int {
	if errors.Is(err, hsmrand.ErrLogin) {
		return ExitPIN
	}
	return ExitCode
}

// install opens the Reader the environment describes and installs it.
func install(getenv func(string) string) (*hsmrand.Reader, error) {
	var opts hsmrand.InstallOptions
	switch v := getenv(EnvKeyGeneration); v {
	case "", "0":
	case "1":
		opts.KeyGeneration = true
	default:
		return nil, fmt.Errorf("%s must be 1 or 0", EnvKeyGeneration)
	}
	cfg, err := hsmrand.ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	deadline := cfg.Deadline
	if deadline == 0 {
		deadline = hsmrand.DefaultDeadline
	}
	// The deadline bounds the wait for the first healthy seed; opening the
	// module and logging in get as long again.
	ctx, cancel := context.WithTimeout(context.Background(), 2*deadline)
	defer cancel()
	r, err := hsmrand.Open(ctx, cfg)
	clear(cfg.PIN)
	if err != nil {
		return nil, err
	}
	if _, err := hsmrand.Install(r, &opts); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// report writes the failure message.
func report(w io.Writer, err error) {
	fmt.Fprintf(w, "hsmrand/autoinstall: FATAL: cannot use the HSM as the source of randomness; the program will not start.\n"+
		"  cause: %v\n", err)
	if errors.Is(err, hsmrand.ErrLogin) {
		fmt.Fprintf(w, "  the PIN was not accepted, or the token's user PIN is locked or on its final try: fix the PIN\n"+
			"  (or have the token's security officer reset it) before starting the program again; exit status %d.\n", ExitPIN)
	}
	fmt.Fprintf(w, "  configure it with %s (a pkcs11: URI, RFC 7512) or VAULT_HSM_LIB and VAULT_HSM_TOKEN_LABEL;\n"+
		"  optional: %s=fail-closed|degrade, %s=5s, %s=1. To run without the HSM, remove the import of\n"+
		"  github.com/hsmentropy/hsmentropy/hsmrand/autoinstall.\n",
		hsmrand.EnvURI, hsmrand.EnvPolicy, hsmrand.EnvDeadline, EnvKeyGeneration)
}
