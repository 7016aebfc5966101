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
// # What a client sees when the server restarts
//
// Measured with p11-kit 0.24.1 (Debian 12) and recorded by the tests:
//
//   - Server down: C_GetSlotList, C_OpenSession and C_GenerateRandom on a
//     session opened before answer CKR_DEVICE_ERROR.
//   - Server back: the same, for as long as the client keeps the module
//     instance; p11-kit-client.so connects only in C_Initialize and never
//     reconnects by itself (TestRestartNeedsReinitialize).
//   - C_Finalize succeeds with the connection lost; after C_Initialize the
//     first draw works within milliseconds once the server listens, and the
//     old session handle answers CKR_SESSION_HANDLE_INVALID.
//   - C_Finalize and C_Initialize while the server is still down both
//     succeed, and the instance then has no slots: C_GetSlotList succeeds
//     with an empty list, and goes on doing so after the server is back,
//     until the next C_Finalize and C_Initialize (TestReinitializeWhileDown).
//     A client that re-initialises to recover must therefore treat "token
//     not found" like a device error and re-initialise again later.
//
// Each C_GetFunctionList of p11-kit-client.so makes a new instance with its
// own connection, initialised and finalised on its own: C_Finalize of one
// leaves another, loaded from the same path in the same process, working
// (TestInstancesAreIndependent). The once-per-process rule of PKCS#11 thus
// binds a client of this module only per loaded instance (per pkcs11.New).
//
// # SoftHSM behind the server
//
// Every client connection has a p11-kit-remote process, and so a SoftHSM
// instance, of its own, and all of them share the token's directory. SoftHSM
// rewrites the token's file on C_Login, and another process reading it
// meanwhile fails: C_GetTokenInfo and C_Login answer CKR_GENERAL_ERROR, and a
// process whose C_Initialize read the half-written file does not see the
// token until it is initialised again. Measured with four clients drawing at
// once, each logging in per session: most calls failed, through the server
// and with SoftHSM loaded directly by four processes alike; without C_Login,
// none did (TestConcurrentClientsWithoutLogin). That is SoftHSM's file store,
// not network-HSM behaviour: let one client at a time log in to a server's
// token, or give each concurrent client a server of its own, or draw without
// logging in (SoftHSM allows C_GenerateRandom in a public session).
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
