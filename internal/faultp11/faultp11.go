// Package faultp11 builds and drives libfaultp11.so, a PKCS#11 module for
// tests that forwards every call to the real SoftHSMv2 module and injects
// faults into it on command.
//
// # What it injects
//
// The module wraps the fourteen calls hsmentropy makes: C_Initialize,
// C_Finalize, C_GetInfo, C_GetSlotList, C_GetSlotInfo, C_GetTokenInfo,
// C_OpenSession, C_CloseSession, C_CloseAllSessions, C_GetSessionInfo,
// C_Login, C_Logout, C_SeedRandom and C_GenerateRandom. Into these it can
// inject latency (fixed or heavy-tailed), error codes, a removed token that
// comes back by itself, zeroed, repeated or half-filled random output, calls
// that hang until released, sessions that the token closes under the
// caller, and a cap on the size of a C_GenerateRandom request. The
// directives are below.
//
// # The control file
//
// The module reads the file named by FAULTP11_CONTROL ([ControlEnv]). Before
// every wrapped call it stat()s the file and reloads it when its inode, size
// or mtime changed; a missing file, or an unset variable, means no faults.
// Every load starts afresh: counters are reset, and the removal time counts
// from the load.
// [Control] replaces the file atomically, by rename, with an mtime that
// grows with every version, so the module never misses a change. The
// variable itself is read at C_GetFunctionList and at every C_Initialize (so
// set it before the first pkcs11.New), and so is FAULTP11_LOG ([LogEnv]).
//
// One directive per line; '#' starts a comment; FUNC is a function name such
// as C_GenerateRandom, or "*" for every wrapped function; numbers are decimal
// or 0x hex. For each call the module applies, in this order:
//
//	hang FUNC                    the call waits (polling every 2 ms) until a
//	                             reload no longer says so, then goes on normally
//	delay FUNC US                sleep US microseconds before the call
//	pareto FUNC XM ALPHA MAX     also sleep XM/U^(1/ALPHA) µs, U uniform in (0,1],
//	                             at most MAX µs
//	removed MS                   for MS ms after the load the token is gone:
//	                             C_GetSlotList(tokenPresent=TRUE) lists no slot,
//	                             C_GetTokenInfo answers CKR_TOKEN_NOT_PRESENT,
//	                             every other call but C_Initialize, C_Finalize,
//	                             C_GetInfo and C_GetSlotList(FALSE) answers
//	                             CKR_DEVICE_REMOVED. At the removal every session
//	                             on the token is closed, as a real device does.
//	fail FUNC CKR COUNT          answer CKR, without calling the real module, for
//	                             the next COUNT calls to FUNC (-1: every call;
//	                             with "*", one counter counts calls to any function)
//	invalidate                   once, at the next call that takes a session
//	                             handle, close every session on that session's
//	                             slot first: the real module then answers
//	                             CKR_SESSION_HANDLE_INVALID
//	sessions N                   at most N (1 to 1024) sessions open on the token
//	                             at once, counted over every process that
//	                             loads the module with the same control file
//	                             (flock on CONTROL.session.0 to N-1, released
//	                             when a session closes, the token is removed
//	                             or the process ends): C_OpenSession beyond
//	                             them answers CKR_SESSION_COUNT. Sessions open
//	                             stay open over reloads and count.
//	output zero|repeat|short N   the next N C_GenerateRandom calls that reach the
//	                             real module (-1: all) return CKR_OK with every
//	                             byte zero; or the first call's bytes again (the
//	                             first of the run passes and is remembered, up to
//	                             64 KiB, and replayed cyclically); or the second
//	                             half zero. A call the real module fails keeps
//	                             its error.
//	maxrandom BYTES [CKR]        last, after all of the above: a C_GenerateRandom
//	                             request of more than BYTES bytes is answered CKR
//	                             (default CKR_DATA_LEN_RANGE, 0x21) without calling
//	                             the real module, as a module whose transport
//	                             carries at most BYTES does (a refused call still
//	                             counts against output N)
//
// Later lines override earlier ones, except fail lines, which add up (the
// first that still applies wins). A bad line is ignored, and reported once to
// stderr with its line number. [Fail], [Delay], [Pareto], [Removed],
// [Sessions], [Output], [Hang], [Invalidate] and [MaxRandom] write the lines.
//
// When FAULTP11_LOG names a file, the module appends "C_Name 0xRV" to it for
// every wrapped call when the call returns. It never logs arguments: the PIN
// passes through C_Login. [ReadLog] parses the file.
//
// # Why a C module
//
// A fake behind a Go interface tests only the code above the interface. The
// faults that matter happen below it: in cgo calls that block OS threads,
// in github.com/miekg/pkcs11's conversion of return values and buffers, in
// what a real PKCS#11 module does to sessions when a token goes away. A
// module loaded by pkcs11.New sends every fault through that whole stack,
// and the answers that are not injected come from SoftHSM itself.
//
// # What is forwarded untouched
//
// Every function outside the fourteen is the real module's own function
// pointer. The wrapped functions call the real ones with the caller's
// arguments and return their answers unchanged unless a directive applies;
// C_Initialize's CKR_CRYPTOKI_ALREADY_INITIALIZED, for one, passes through.
// The real module is /usr/lib/softhsm/libsofthsm2.so, or the library named by
// FAULTP11_MODULE ([RealEnv]), loaded once for the life of the process.
package faultp11

import (
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	"github.com/hsmentropy/hsmentropy/internal/softhsmtest"
)

// source is the module's C source.
//
//go:embed c/faultp11.c
var source []byte

const (
	// ModuleEnv names a prebuilt libfaultp11.so, for the Makefile to set;
	// without it [Module] builds one.
	ModuleEnv = "HSMENTROPY_FAULTP11"
	// ControlEnv names the control file the module reads.
	ControlEnv = "FAULTP11_CONTROL"
	// RealEnv names the real module to forward to (default [DefaultReal]).
	RealEnv = "FAULTP11_MODULE"
	// LogEnv names the file the module appends its call log to.
	LogEnv = "FAULTP11_LOG"
)

// DefaultReal is the module forwarded to when FAULTP11_MODULE is not set.
const DefaultReal = "/usr/lib/softhsm/libsofthsm2.so"

// pkcs11Module is the Go module whose source tree ships pkcs11.h,
// pkcs11t.h and pkcs11f.h.
const pkcs11Module = "github.com/miekg/pkcs11"

// Build writes the module's C source to dir and compiles it there into
// libfaultp11.so, with $CC (default cc) and the PKCS#11 headers shipped by
// github.com/miekg/pkcs11. It returns the path of the library.
func Build(dir string) (path string, err error) {
	return build(dir)
}

func build(dir string, extraFlags ...string) (string, error) {
	inc, err := headerDir()
	if err != nil {
		return "", err
	}
	cc := strings.Fields(os.Getenv("CC"))
	if len(cc) == 0 {
		cc = []string{"cc"}
	}
	ccPath, err := exec.LookPath(cc[0])
	if err != nil {
		return "", fmt.Errorf("faultp11: no C compiler: %w (install one, or set CC)", err)
	}
	src, lib := filepath.Join(dir, "faultp11.c"), filepath.Join(dir, "libfaultp11.so")
	if err := os.WriteFile(src, source, 0o600); err != nil {
		return "", fmt.Errorf("faultp11: %w", err)
	}
	args := append(cc[1:], "-shared", "-fPIC", "-O2", "-Wall", "-Wextra")
	args = append(args, extraFlags...)
	args = append(args, "-o", lib, src, "-ldl", "-lpthread", "-I"+inc)
	out, err := exec.Command(ccPath, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("faultp11: compiling %s: %w\n%s", src, err, out)
	}
	return lib, nil
}

// headerDir finds the directory of the github.com/miekg/pkcs11 module
// source, which holds pkcs11.h: by asking the go command about the module
// around the working directory, else in GOMODCACHE at the version linked
// into this binary.
func headerDir() (string, error) {
	goCmd, err := goCommand()
	if err != nil {
		return "", err
	}
	var tried []string
	out, err := exec.Command(goCmd, "list", "-m", "-f", "{{.Dir}}", pkcs11Module).Output()
	if dir := strings.TrimSpace(string(out)); err == nil && hasHeader(dir) {
		return dir, nil
	}
	tried = append(tried, fmt.Sprintf("go list -m %s: %v %q", pkcs11Module, err, strings.TrimSpace(string(out))))
	version := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == pkcs11Module {
				version = m.Version
			}
		}
	}
	if version == "" {
		tried = append(tried, pkcs11Module+" is not linked into this binary")
	} else {
		out, err := exec.Command(goCmd, "env", "GOMODCACHE").Output()
		dir := filepath.Join(strings.TrimSpace(string(out)), pkcs11Module+"@"+version)
		if err == nil && hasHeader(dir) {
			return dir, nil
		}
		tried = append(tried, fmt.Sprintf("no pkcs11.h in %s (go env GOMODCACHE: %v)", dir, err))
	}
	return "", fmt.Errorf("faultp11: cannot find the PKCS#11 headers of %s: %s", pkcs11Module, strings.Join(tried, "; "))
}

func hasHeader(dir string) bool {
	if dir == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, "pkcs11.h"))
	return err == nil
}

// goCommand finds the go command: in PATH, else in the Go tree this binary
// was built with.
func goCommand() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	//lint:ignore SA1019 a test binary runs where it was built, so the build's GOROOT is right
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("faultp11: the go command is needed to find %s: not in PATH, nor at %s", pkcs11Module, p)
	}
	return p, nil
}

// built is the module [Module] builds, once per process.
var built struct {
	once sync.Once
	path string
	err  error
}

// Module returns the path of a libfaultp11.so: the one named by
// HSMENTROPY_FAULTP11 if that file exists, else one built (once per process)
// in a new temporary directory. That directory is not removed: the process
// may load the library at any time until it exits. When the module cannot be built, or the real
// module it forwards to is missing, Module skips or fails the test per
// [softhsmtest.Unavailable].
func Module(tb testing.TB) string {
	tb.Helper()
	real := os.Getenv(RealEnv)
	if real == "" {
		real = DefaultReal
	}
	if _, err := os.Stat(real); err != nil {
		softhsmtest.Unavailable(tb, fmt.Errorf("%w: faultp11 forwards to %s, which is missing (set %s to another module)", softhsmtest.ErrNotInstalled, real, RealEnv))
	}
	if p := os.Getenv(ModuleEnv); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
		tb.Logf("%s=%s does not exist; building the module", ModuleEnv, p)
	}
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "faultp11-")
		if err != nil {
			built.err = fmt.Errorf("faultp11: %w", err)
			return
		}
		built.path, built.err = Build(dir)
	})
	if built.err != nil {
		softhsmtest.Unavailable(tb, built.err)
	}
	return built.path
}
