package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hashicorp/go-kms-wrapping/entropy/v2"
	"github.com/hsmentropy/hsmentropy/hsmrand"
)

// The Reader is what Vault's hook takes, checked at compile time.
var _ entropy.Sourcer = (*hsmrand.Reader)(nil)

// Environment of the SoftHSM set-up.
const (
	requireSoftHSMEnv = "HSMENTROPY_REQUIRE_SOFTHSM" // "1": a missing SoftHSM fails the tests
	softHSMConfEnv    = "SOFTHSM2_CONF"              // SoftHSM's configuration file
	softHSMModuleEnv  = "HSMVAULT_SOFTHSM_MODULE"    // the module path, handed to child processes
)

// tokenLabel is the label of the SoftHSM token the tests draw from.
const tokenLabel = "hsmvault"

// softHSMModules lists where distributions install the SoftHSMv2 module.
var softHSMModules = []string{
	"/usr/lib/softhsm/libsofthsm2.so",                  // Debian, Ubuntu
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", // Debian multiarch
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",         // Fedora, RHEL
	"/usr/local/lib/softhsm/libsofthsm2.so",    // source builds
	"/opt/homebrew/lib/softhsm/libsofthsm2.so", // macOS
}

// errNoSoftHSM reports that SoftHSMv2 is not installed.
var errNoSoftHSM = errors.New("SoftHSMv2 is not installed (apt-get install softhsm2)")

// The process's Reader, opened on first use and closed by TestMain.
var (
	sourceOnce sync.Once
	source     *hsmrand.Reader
	sourceErr  error
	setupErr   error // from TestMain's token set-up
)

// TestMain creates one SoftHSM token in a temporary directory and points
// SOFTHSM2_CONF at it before any test calls C_Initialize (SoftHSM reads the
// file once per process). Child processes inherit the variable and the token.
func TestMain(m *testing.M) {
	var cleanup func()
	if os.Getenv(childModeEnv) == "" {
		cleanup, setupErr = setUpSoftHSM()
	}
	code := m.Run()
	if source != nil {
		source.Close()
	}
	if cleanup != nil {
		cleanup()
	}
	os.Exit(code)
}

// setUpSoftHSM writes a SoftHSM configuration and a token with softhsm2-util,
// and sets SOFTHSM2_CONF and HSMVAULT_SOFTHSM_MODULE for this process and its
// children.
func setUpSoftHSM() (cleanup func(), err error) {
	module := ""
	for _, p := range softHSMModules {
		if _, err := os.Stat(p); err == nil {
			module = p
			break
		}
	}
	util, lookErr := exec.LookPath("softhsm2-util")
	if module == "" || lookErr != nil {
		return nil, errNoSoftHSM
	}
	dir, err := os.MkdirTemp("", "hsmvault-softhsm-")
	if err != nil {
		return nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	tokens := filepath.Join(dir, "tokens")
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		return cleanup, err
	}
	text := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return cleanup, err
	}
	var pins [2][8]byte
	for i := range pins {
		rand.Read(pins[i][:])
	}
	cmd := exec.Command(util, "--init-token", "--free", "--label", tokenLabel,
		"--pin", hex.EncodeToString(pins[0][:]), "--so-pin", hex.EncodeToString(pins[1][:]))
	cmd.Env = append(os.Environ(), softHSMConfEnv+"="+conf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return cleanup, fmt.Errorf("softhsm2-util --init-token: %w: %s", err, out.String())
	}
	os.Setenv(softHSMConfEnv, conf)
	os.Setenv(softHSMModuleEnv, module)
	return cleanup, nil
}

// openSource returns the process's hsmrand.Reader over the SoftHSM token, and
// a function that reports the bytes it has served (Stats().BytesServed). It
// skips the test when SoftHSM is missing, unless HSMENTROPY_REQUIRE_SOFTHSM=1.
func openSource(t *testing.T) (*hsmrand.Reader, func() uint64) {
	t.Helper()
	if setupErr != nil {
		if errors.Is(setupErr, errNoSoftHSM) && os.Getenv(requireSoftHSMEnv) != "1" {
			t.Skipf("skipping: %v (set %s=1 to make this a failure)", setupErr, requireSoftHSMEnv)
		}
		t.Fatalf("SoftHSM set-up: %v", setupErr)
	}
	sourceOnce.Do(func() {
		uri := "pkcs11:token=" + tokenLabel + "?module-path=" + os.Getenv(softHSMModuleEnv)
		source, sourceErr = hsmrand.Open(context.Background(), hsmrand.Config{URI: uri})
	})
	if sourceErr != nil {
		t.Fatalf("hsmrand.Open: %v", sourceErr)
	}
	return source, func() uint64 { return source.Stats().BytesServed }
}

// installSource makes src crypto/rand.Reader with hsmrand.Install.
func installSource(t *testing.T, src *hsmrand.Reader) (restore func()) {
	t.Helper()
	return hsmrand.Install(src)
}
