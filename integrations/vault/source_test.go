package vault

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-kms-wrapping/entropy/v2"
	"github.com/hsmentropy/hsmentropy/hsmrand"
	"github.com/hsmentropy/hsmentropy/internal/softhsmtest"
	"github.com/stretchr/testify/require"
)

// The Reader is what Vault's hook takes, checked at compile time.
var _ entropy.Sourcer = (*hsmrand.Reader)(nil)

// softHSMModuleEnv hands the SoftHSM module's path to child processes,
// which inherit SOFTHSM2_CONF and the token too.
const softHSMModuleEnv = "HSMVAULT_SOFTHSM_MODULE"

// tokenLabel is the label of the SoftHSM token the tests draw from.
const tokenLabel = "hsmvault"

// The process's Reader, opened on first use and closed by TestMain.
var (
	sourceOnce sync.Once
	source     *hsmrand.Reader
	sourceErr  error
	setupErr   error // from TestMain's token set-up
)

// closeSource closes the process's Reader, if it was opened.
func closeSource() {
	if source != nil {
		source.Close()
	}
}

// TestMain creates one SoftHSM token in a temporary directory and points
// SOFTHSM2_CONF at it before any test calls C_Initialize (SoftHSM reads the
// file once per process). Child processes (the GODEBUG tests) inherit the
// variable and the token, and set nothing up themselves.
func TestMain(m *testing.M) {
	if os.Getenv(childModeEnv) != "" {
		code := m.Run()
		closeSource()
		os.Exit(code)
	}
	os.Exit(softhsmtest.Run(m, "hsmvault-softhsm-", &setupErr, func(root string) error {
		d, err := softhsmtest.NewDirEnv(root)
		if err != nil {
			return err
		}
		if _, err := d.InitToken(tokenLabel, "", ""); err != nil {
			return err
		}
		return os.Setenv(softHSMModuleEnv, d.Module)
	}, closeSource))
}

// openSource returns the process's hsmrand.Reader over the SoftHSM token, and
// a function that reports the bytes it has served (Stats().BytesServed). It
// skips the test when SoftHSM is missing, unless HSMENTROPY_REQUIRE_SOFTHSM=1.
func openSource(t *testing.T) (*hsmrand.Reader, func() uint64) {
	t.Helper()
	softhsmtest.Need(t, setupErr)
	sourceOnce.Do(func() {
		uri := "pkcs11:token=" + tokenLabel + "?module-path=" + os.Getenv(softHSMModuleEnv)
		source, sourceErr = hsmrand.Open(context.Background(), hsmrand.Config{URI: uri})
	})
	require.NoError(t, sourceErr, "hsmrand.Open")
	return source, func() uint64 { return source.Stats().BytesServed }
}

// installSource makes src crypto/rand.Reader with hsmrand.Install, with
// key generation (cryptocustomrand=1) unless GODEBUG sets
// cryptocustomrand=0, which Install would refuse to override.
func installSource(t *testing.T, src *hsmrand.Reader) (restore func()) {
	t.Helper()
	keygen := !strings.Contains(os.Getenv("GODEBUG"), "cryptocustomrand=0")
	restore, err := hsmrand.Install(src, &hsmrand.InstallOptions{KeyGeneration: keygen})
	require.NoError(t, err)
	return restore
}
