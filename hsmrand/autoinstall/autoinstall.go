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
// It then calls hsmrand.Open and hsmrand.Install, which also sets
// GODEBUG=cryptocustomrand=1 so that Go 1.26's key generation uses the
// Reader (unless GODEBUG already names cryptocustomrand).
//
// # Failure
//
// A program that imports this package asked for HSM-backed randomness and
// must not run without it. If the configuration is missing or wrong, or
// the HSM cannot be opened or gives no healthy seed within the deadline,
// init prints what went wrong and how to fix it to standard error, and
// exits with status 2, before main runs. The PIN is never printed.
//
// The Reader lives as long as the process and is never closed. This
// package's init is the module's one init with a side effect: import it
// only from a main package.
package autoinstall

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/hsmentropy/hsmentropy/hsmrand"
)

// ExitCode is the status the process exits with when the HSM cannot be
// used.
const ExitCode = 2

func init() {
	if err := install(os.Getenv); err != nil {
		report(os.Stderr, err)
		os.Exit(ExitCode)
	}
}

// install opens the Reader the environment describes and installs it.
func install(getenv func(string) string) error {
	cfg, err := hsmrand.ConfigFromEnv(getenv)
	if err != nil {
		return err
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
		return err
	}
	hsmrand.Install(r)
	return nil
}

// report writes the failure message.
func report(w io.Writer, err error) {
	fmt.Fprintf(w, "hsmrand/autoinstall: FATAL: cannot use the HSM as the source of randomness; the program will not start.\n"+
		"  cause: %v\n"+
		"  configure it with %s (a pkcs11: URI, RFC 7512) or VAULT_HSM_LIB and VAULT_HSM_TOKEN_LABEL;\n"+
		"  optional: %s=fail-closed|degrade, %s=5s. To run without the HSM, remove the import of\n"+
		"  github.com/hsmentropy/hsmentropy/hsmrand/autoinstall.\n",
		err, hsmrand.EnvURI, hsmrand.EnvPolicy, hsmrand.EnvDeadline)
}
