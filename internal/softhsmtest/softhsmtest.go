// Package softhsmtest creates SoftHSMv2 tokens for tests that exercise
// PKCS#11 code through the real module.
//
// # How SoftHSM finds its tokens
//
// SoftHSM reads the file named by SOFTHSM2_CONF once, in C_Initialize, and a
// process can initialise a PKCS#11 module only once at a time. So a test binary
// either points SOFTHSM2_CONF at one directory before its first C_Initialize
// and creates every token it needs there ([NewDir] and [Dir.InitToken], e.g.
// from TestMain), or calls [New] in a test that owns the module for its whole
// life (the module must be finalised before the next [New] takes effect).
//
// # Skipping and failing
//
// On a laptop without SoftHSM the tests skip with a message saying what to
// install. When HSMENTROPY_REQUIRE_SOFTHSM=1 (set by CI) a missing SoftHSM is a
// test failure instead: see [Unavailable].
package softhsmtest

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// RequireEnv names the environment variable that turns a missing SoftHSM
// from a skipped test into a failed one when set to "1".
const RequireEnv = "HSMENTROPY_REQUIRE_SOFTHSM"

// ConfEnv names the environment variable through which SoftHSM finds its
// configuration file.
const ConfEnv = "SOFTHSM2_CONF"

// ErrNotInstalled reports that the SoftHSMv2 module or softhsm2-util is missing.
var ErrNotInstalled = errors.New("softhsmtest: SoftHSMv2 is not installed")

// modulePaths lists where distributions install the SoftHSMv2 module.
var modulePaths = []string{
	"/usr/lib/softhsm/libsofthsm2.so",                   // Debian, Ubuntu
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",  // Debian multiarch
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so", // Debian multiarch
	"/usr/lib64/pkcs11/libsofthsm2.so",                  // Fedora, RHEL
	"/usr/local/lib/softhsm/libsofthsm2.so",             // source builds
	"/opt/homebrew/lib/softhsm/libsofthsm2.so",          // macOS
}

// Lookup returns the paths of the SoftHSMv2 module and of softhsm2-util, or
// an error saying which is missing.
func Lookup() (module, util string, err error) {
	for _, p := range modulePaths {
		if _, statErr := os.Stat(p); statErr == nil {
			module = p
			break
		}
	}
	if module == "" {
		return "", "", fmt.Errorf("%w: libsofthsm2.so not found in %s; install softhsm2", ErrNotInstalled, strings.Join(modulePaths, ", "))
	}
	util, err = exec.LookPath("softhsm2-util")
	if err != nil {
		return "", "", fmt.Errorf("%w: softhsm2-util not in PATH; install softhsm2", ErrNotInstalled)
	}
	return module, util, nil
}

// Unavailable reports that SoftHSM could not be used: tb.Fatal when
// HSMENTROPY_REQUIRE_SOFTHSM=1, tb.Skip otherwise.
func Unavailable(tb testing.TB, err error) {
	tb.Helper()
	if os.Getenv(RequireEnv) == "1" {
		tb.Fatalf("%v (%s=1: SoftHSM is required here)", err, RequireEnv)
	}
	tb.Skipf("skipping: %v (set %s=1 to make this a failure)", err, RequireEnv)
}

// Need reports the set-up error that [Run] stored: it skips (or, with
// HSMENTROPY_REQUIRE_SOFTHSM=1, fails) when SoftHSM is not installed, fails
// on any other set-up error, and does nothing when there was none.
func Need(tb testing.TB, setupErr error) {
	tb.Helper()
	switch {
	case errors.Is(setupErr, ErrNotInstalled):
		Unavailable(tb, setupErr)
	case setupErr != nil:
		tb.Fatalf("setting up SoftHSM: %v", setupErr)
	}
}

// Dir is a SoftHSMv2 configuration file and the token directory it names.
type Dir struct {
	Module string // path of libsofthsm2.so
	Conf   string // path of softhsm2.conf; SOFTHSM2_CONF must name it
	Tokens string // the token directory

	util string
}

// NewDir writes a SoftHSM configuration and an empty token directory under
// root. It does not change the environment.
func NewDir(root string) (*Dir, error) {
	module, util, err := Lookup()
	if err != nil {
		return nil, err
	}
	d := &Dir{Module: module, Conf: filepath.Join(root, "softhsm2.conf"), Tokens: filepath.Join(root, "tokens"), util: util}
	if err := os.MkdirAll(d.Tokens, 0o700); err != nil {
		return nil, fmt.Errorf("softhsmtest: %w", err)
	}
	conf := "directories.tokendir = " + d.Tokens + "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
	if err := os.WriteFile(d.Conf, []byte(conf), 0o600); err != nil {
		return nil, fmt.Errorf("softhsmtest: %w", err)
	}
	return d, nil
}

// NewDirEnv is NewDir, then points SOFTHSM2_CONF at the configuration, for
// this process and the ones it starts.
func NewDirEnv(root string) (*Dir, error) {
	d, err := NewDir(root)
	if err != nil {
		return nil, err
	}
	if err := os.Setenv(ConfEnv, d.Conf); err != nil {
		return nil, fmt.Errorf("softhsmtest: %w", err)
	}
	return d, nil
}

// Run is the body of a TestMain whose tests share SoftHSM tokens: it makes
// a temporary directory (named after prefix), calls setup with it to create
// the tokens (typically through [NewDirEnv] and [Dir.InitToken], before any
// C_Initialize), runs the tests, calls each of after (to close what still
// holds the tokens, such as a Reader shared by the tests), removes the
// directory and returns m.Run's exit code for os.Exit. setup's error is
// stored in *setupErr rather than ending the run, so that the tests that
// need no token still run and the others report it through [Need].
func Run(m *testing.M, prefix string, setupErr *error, setup func(root string) error, after ...func()) int {
	root, err := os.MkdirTemp("", prefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(root)
	*setupErr = setup(root)
	code := m.Run()
	for _, f := range after {
		f()
	}
	return code
}

// Token describes a token created by [Dir.InitToken] or [New].
type Token struct {
	Module string // path of libsofthsm2.so
	Conf   string // the SOFTHSM2_CONF that holds the token
	Label  string
	Serial string
	Slot   uint // the slot SoftHSM assigned when the token was created
	PIN    string
	SOPIN  string
}

// InitToken creates a token in the first free slot with softhsm2-util
// (--init-token --free). An empty pin or soPIN is replaced by a random one.
func (d *Dir) InitToken(label, pin, soPIN string) (*Token, error) {
	if pin == "" {
		pin = randomPIN()
	}
	if soPIN == "" {
		soPIN = randomPIN()
	}
	out, err := d.run("--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", soPIN)
	if err != nil {
		return nil, err
	}
	_, after, ok := strings.Cut(out, "reassigned to slot ")
	if !ok {
		return nil, fmt.Errorf("softhsmtest: unexpected softhsm2-util output: %q", out)
	}
	slot, err := strconv.ParseUint(strings.TrimSpace(after), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("softhsmtest: slot in softhsm2-util output: %w", err)
	}
	serial, err := d.serial(uint(slot))
	if err != nil {
		return nil, err
	}
	return &Token{Module: d.Module, Conf: d.Conf, Label: label, Serial: serial, Slot: uint(slot), PIN: pin, SOPIN: soPIN}, nil
}

// serial reads the serial number of the token in slot from --show-slots.
func (d *Dir) serial(slot uint) (string, error) {
	out, err := d.run("--show-slots")
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	in := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "Slot "); ok {
			if n, err := strconv.ParseUint(rest, 10, 64); err == nil { // not "Slot info:"
				in = n == uint64(slot)
			}
			continue
		}
		if v, ok := strings.CutPrefix(line, "Serial number:"); ok && in {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("softhsmtest: slot %d not in softhsm2-util --show-slots", slot)
}

func (d *Dir) run(args ...string) (string, error) {
	cmd := exec.Command(d.util, args...)
	cmd.Env = append(os.Environ(), ConfEnv+"="+d.Conf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("softhsmtest: softhsm2-util %s: %w: %s", args[0], err, out.String())
	}
	return out.String(), nil
}

// Option changes what [New] creates.
type Option func(*options)

type options struct{ label, pin string }

// WithLabel sets the token label (default "softhsmtest").
func WithLabel(label string) Option { return func(o *options) { o.label = label } }

// WithPIN sets the user PIN (default: random).
func WithPIN(pin string) Option { return func(o *options) { o.pin = pin } }

// New creates a SoftHSM directory in tb.TempDir with one token, points
// SOFTHSM2_CONF at it with tb.Setenv (so the test cannot be parallel), and
// returns the token. It skips or fails the test, per [Unavailable], when
// SoftHSM is not installed.
func New(tb testing.TB, opts ...Option) *Token {
	tb.Helper()
	o := options{label: "softhsmtest"}
	for _, opt := range opts {
		opt(&o)
	}
	d, err := NewDir(tb.TempDir())
	if err != nil {
		if errors.Is(err, ErrNotInstalled) {
			Unavailable(tb, err)
		}
		tb.Fatal(err)
	}
	tb.Setenv(ConfEnv, d.Conf)
	tok, err := d.InitToken(o.label, o.pin, "")
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func randomPIN() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
