package p11kittest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/internal/softhsmtest"
)

// Timeouts are generous: the tests run on loaded two-core machines.
const (
	readyTimeout = 60 * time.Second // from exec to a listening socket
	stopTimeout  = 30 * time.Second // from SIGKILL to an empty process group
	pollInterval = 10 * time.Millisecond
)

// maxSocketPath is the longest path a unix socket address holds on Linux
// (sizeof sun_path, 108, less the terminating NUL that p11-kit requires).
const maxSocketPath = 107

// Options changes what [Start] creates. The zero value is a new token.
type Options struct {
	// Token is the SoftHSM token to export. When nil, Start creates one in a
	// SoftHSM directory of its own under tb.TempDir(), so that two servers
	// never share a token directory.
	Token *softhsmtest.Token
	// Label and PIN are those of the token Start creates (default
	// "p11kittest" and a random PIN); they are ignored when Token is set.
	Label, PIN string
}

// Server is a `p11-kit server` exporting one SoftHSM token on a unix socket.
// Its fields do not change after [Start]; its methods may be called from any
// goroutine.
type Server struct {
	Token *softhsmtest.Token // the exported token: Label, PIN, Serial, Conf

	Socket  string // the socket's path; the same across restarts
	Address string // "unix:path=" + Socket, the value of AddressEnv

	// ClientModule is the system's p11-kit-client.so. It reads AddressEnv.
	ClientModule string
	// OwnModule is a copy of p11-kit-client.so that reads OwnEnvName
	// instead of AddressEnv, for a process that reaches two servers: see the
	// package doc.
	OwnModule  string
	OwnEnvName string

	p11kit string
	dir    string // holds the socket, the log and OwnModule
	log    string // the server's stdout and stderr, across restarts

	mu  sync.Mutex
	run *running // nil while stopped
}

// Start creates or takes a SoftHSM token, starts a p11-kit server exporting
// it on a unix socket, and waits until the server listens. The server is
// stopped when the test ends. It skips the test, or fails it under
// HSMENTROPY_REQUIRE_SOFTHSM=1, when p11-kit or SoftHSM is missing.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	p11kit, client, err := Lookup()
	if err != nil {
		softhsmtest.Unavailable(tb, err)
	}
	tok := opts.Token
	if tok == nil {
		tok = newToken(tb, opts)
	}
	dir := socketDir(tb)
	own, ownEnv, err := writeOwnModule(client, dir)
	if err != nil {
		tb.Fatal(err)
	}
	sock := filepath.Join(dir, "p11kit.sock")
	s := &Server{
		Token:        tok,
		Socket:       sock,
		Address:      "unix:path=" + sock,
		ClientModule: client,
		OwnModule:    own,
		OwnEnvName:   ownEnv,
		p11kit:       p11kit,
		dir:          dir,
		log:          filepath.Join(dir, "server.log"),
	}
	tb.Cleanup(func() {
		if err := s.Stop(); err != nil {
			tb.Error(err)
		}
	})
	if err := s.Start(); err != nil {
		tb.Fatal(err)
	}
	return s
}

func newToken(tb testing.TB, opts Options) *softhsmtest.Token {
	tb.Helper()
	d, err := softhsmtest.NewDir(tb.TempDir())
	if errors.Is(err, softhsmtest.ErrNotInstalled) {
		softhsmtest.Unavailable(tb, err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	label := opts.Label
	if label == "" {
		label = "p11kittest"
	}
	tok, err := d.InitToken(label, opts.PIN, "")
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// socketDir returns tb.TempDir(), or a shorter temporary directory when a
// socket path under tb.TempDir() would not fit in a unix socket address.
func socketDir(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	if len(filepath.Join(dir, "p11kit.sock")) <= maxSocketPath {
		return dir
	}
	dir, err := os.MkdirTemp("", "p11kit")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Env returns the environment entries through which a client finds this
// server: AddressEnv for ClientModule and OwnEnvName for OwnModule. For a
// process that reaches two servers, use each server's OwnModule and both
// servers' Env: AddressEnv then names whichever came last.
func (s *Server) Env() []string {
	return []string{AddressEnv + "=" + s.Address, s.OwnEnvName + "=" + s.Address}
}

// Setenv sets the entries of [Server.Env] in this process for the rest of
// the test, with tb.Setenv (so the test cannot be parallel). A client must
// load its module after this: p11-kit-client.so reads the address when it is
// loaded (in C_GetFunctionList).
func (s *Server) Setenv(tb testing.TB) {
	tb.Helper()
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		tb.Setenv(k, v)
	}
}

// Start starts the server again on the same socket, exporting the same
// token, and waits until it listens. It fails if the server is running.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run != nil {
		return fmt.Errorf("p11kittest: server on %s is already running", s.Socket)
	}
	r, err := s.launch()
	if err != nil {
		return err
	}
	if err := r.waitListening(s.Socket); err != nil {
		if serr := r.stop(); serr != nil {
			err = errors.Join(err, serr)
		}
		return fmt.Errorf("%w\nserver log:\n%s", err, s.logTail())
	}
	s.run = r
	return nil
}

// Stop kills the server and every process it forked for a client with
// SIGKILL, as an HSM that loses power would end, and waits until all of
// them are gone. The socket file stays behind, refusing connections, until
// the next Start replaces it. Stopping a stopped server does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run == nil {
		return nil
	}
	err := s.run.stop()
	s.run = nil
	return err
}

// PIDs returns the live processes of the running server: the server itself
// and one p11-kit-remote process for each connected client. It returns nil
// when the server is stopped.
func (s *Server) PIDs() ([]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run == nil {
		return nil, nil
	}
	return groupMembers(s.run.pgid)
}

func (s *Server) launch() (*running, error) {
	logf, err := os.OpenFile(s.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("p11kittest: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(s.p11kit, "server", "-f", "-n", s.Socket,
		"--provider", s.Token.Module, "pkcs11:serial="+s.Token.Serial)
	cmd.Env = append(withoutEnv(os.Environ(), softhsmtest.ConfEnv, AddressEnv), softhsmtest.ConfEnv+"="+s.Token.Conf)
	cmd.Stdout, cmd.Stderr = logf, logf // files, so no copying goroutine outlives a stop
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("p11kittest: starting p11-kit server: %w", err)
	}
	return watch(cmd), nil
}

// logTail returns the end of the server's log, for error messages.
func (s *Server) logTail() string {
	b, err := os.ReadFile(s.log)
	if err != nil {
		return err.Error()
	}
	const max = 4 << 10
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

func withoutEnv(env []string, names ...string) []string {
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			drop = drop || k == n
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}
