// Package p11kittest stands in a network HSM for tests: `p11-kit server`
// exports a SoftHSM token on a unix socket, and clients reach it through
// p11-kit's RPC client module, p11-kit-client.so, which forwards every
// PKCS#11 call over the socket. Stopping the server (and the process it forks
// for each client) is the HSM going away; starting it again on the same
// socket is the HSM coming back.
//
// # How p11-kit server runs
//
// [Start] runs `p11-kit server -f -n SOCKET --provider LIBSOFTHSM2 pkcs11:serial=…`
// in a process group of its own, with SOFTHSM2_CONF naming the token's
// configuration. With -f the server stays in the foreground (it does not fork
// or setsid), binds and listens on SOCKET and prints the shell snippet
// P11_KIT_SERVER_ADDRESS=unix:path=SOCKET and its PID, which the harness
// does not need: it chose the path. For each connection it accepts it forks a
// child that execs p11-kit-remote, which loads SoftHSM and serves that one
// client until it disconnects. The children stay in the server's process
// group, so [Server.Stop] ends the server and every child at once with
// SIGKILL to the group, and then waits until no live process is left in the
// group (read from /proc, so that a zombie not yet reaped by init counts as
// gone). Nothing is ever looked up or killed by name: tests run in parallel.
// The server is ready when /proc/net/unix lists its socket as listening; no
// probe connection is made.
//
// # How a client finds the server
//
// p11-kit-client.so reads P11_KIT_SERVER_ADDRESS in C_GetFunctionList, once
// per call: every C_GetFunctionList builds a new, independent module
// instance with its own connection, which C_Initialize opens. So the variable
// must be in the environment (the C one: os.Setenv reaches it under cgo)
// before the client loads the module, and one process can reach two servers
// through one library only by changing the variable between two loads.
//
// For two servers in one process whose code names each token by its module
// path, such as a failover pool, every [Server] also writes [Server.OwnModule]:
// a byte-for-byte copy of p11-kit-client.so in which the one occurrence of the
// name P11_KIT_SERVER_ADDRESS is replaced by a name of the same length unique
// to the server ([Server.OwnEnvName]). The code is p11-kit's own; only the
// variable it reads differs, so each copy reaches its own server and, being a
// distinct file, is loaded as a distinct library with its own state. The
// other ways were tried and rejected: p11-kit-proxy.so with `remote:` module
// files in the user configuration is ignored when the program runs as root
// (p11-kit skips user configuration for root, and CI runs as root), and the
// system configuration is not ours to change.
//
// # Skipping and failing
//
// Tests skip when p11-kit or SoftHSM is missing, and fail instead when
// HSMENTROPY_REQUIRE_SOFTHSM=1 (see [softhsmtest.Unavailable]).
package p11kittest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// AddressEnv names the variable from which p11-kit-client.so takes the
// server's address.
const AddressEnv = "P11_KIT_SERVER_ADDRESS"

// ErrNotInstalled reports that p11-kit or its client module is missing.
var ErrNotInstalled = errors.New("p11kittest: p11-kit is not installed")

// clientPaths lists where distributions install p11-kit-client.so.
var clientPaths = []string{
	"/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so",  // Debian, Ubuntu
	"/usr/lib/aarch64-linux-gnu/pkcs11/p11-kit-client.so", // Debian, Ubuntu
	"/usr/lib64/pkcs11/p11-kit-client.so",                 // Fedora, RHEL
	"/usr/lib/pkcs11/p11-kit-client.so",                   // Arch
}

// Lookup returns the paths of the p11-kit program and of p11-kit-client.so,
// or an error matching [ErrNotInstalled] saying which is missing.
func Lookup() (p11kit, client string, err error) {
	p11kit, err = exec.LookPath("p11-kit")
	if err != nil {
		return "", "", fmt.Errorf("%w: p11-kit not in PATH; install p11-kit", ErrNotInstalled)
	}
	for _, p := range clientPaths {
		if _, err := os.Stat(p); err == nil {
			return p11kit, p, nil
		}
	}
	return "", "", fmt.Errorf("%w: p11-kit-client.so not found in %s; install p11-kit-modules", ErrNotInstalled, strings.Join(clientPaths, ", "))
}
