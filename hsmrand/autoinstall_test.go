package hsmrand

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAutoinstall builds a program that imports hsmrand/autoinstall and
// runs it: with a good configuration crypto/rand.Reader is the installed
// Reader before main runs, autoinstall.Reader returns it, and GODEBUG
// changes only with HSMRAND_KEY_GENERATION=1; with none, a wrong PIN, a
// GODEBUG that refuses key generation, or fips140=only, the process stops
// before main with exit status 2 (3 for the PIN) and a clear message that
// never holds the PIN. (The package cannot be tested in its own test binary: its init
// would run there.)
func TestAutoinstall(t *testing.T) {
	needSoftHSM(t)
	if testing.Short() {
		t.Skip("builds a program; skipped under -short")
	}
	gobin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command is needed to build the test program")
	prog := filepath.Join(t.TempDir(), "prog")
	build := exec.Command(gobin, "build", "-o", prog, "./autoinstall/testdata/prog")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build:\n%s", out)
	const wrongPIN = "wrong-pin-271828"
	uri := EnvURI + "=" + fmt.Sprintf("pkcs11:token=%s?module-path=%s&pin-source=file:%s", hsm.main.Label, hsm.main.Module, hsm.pinFile)
	vault := []string{"VAULT_HSM_LIB=" + hsm.main.Module, "VAULT_HSM_TOKEN_LABEL=" + hsm.main.Label, "VAULT_HSM_PIN=" + hsm.main.PIN}
	// Without KeyGeneration, Go 1.26 makes ECDSA keys with its own
	// generator, unless this module's go.mod turns cryptocustomrand on by
	// default (go 1.25).
	keyDefault := fmt.Sprint(keysFollowReader())
	type testCase struct {
		name      string
		env       []string
		exit      int
		stdout    string
		stderr    []string
		notStderr string
	}
	var cases []testCase
	if buildFIPS() && keysFollowReader() {
		// The program runs in FIPS mode (GODEBUG is cleared, but a GOFIPS140
		// build defaults to fips140=on), where keys would follow the Reader
		// without being asked: Install refuses.
		cases = append(cases, testCase{"uri", []string{uri},
			autoinstallExit, "", []string{"FATAL", "KeyGeneration"}, ""})
	} else {
		cases = append(cases, testCase{"uri", []string{uri},
			0, "reader=*hsmrand.installed installed=true key-from-reader=" + keyDefault + " GODEBUG=\n", nil, ""})
	}
	cases = append(cases, []testCase{
		{"uri, key generation", []string{uri, "HSMRAND_KEY_GENERATION=1", "GODEBUG=x509sha1=1"},
			0, "reader=*hsmrand.installed installed=true key-from-reader=true GODEBUG=x509sha1=1" + keygenSuffix() + "\n", nil, ""},
		{"vault, cryptocustomrand=0", append(vault, "GODEBUG=cryptocustomrand=0"),
			0, "reader=*hsmrand.installed installed=true key-from-reader=" + fmt.Sprint(!customRandKnown) + " GODEBUG=cryptocustomrand=0\n", nil, ""},
	}...)
	if customRandKnown { // Go 1.25 has no such setting to refuse
		cases = append(cases, testCase{"key generation refused by GODEBUG", append(vault, "GODEBUG=cryptocustomrand=0", "HSMRAND_KEY_GENERATION=1"),
			autoinstallExit, "", []string{"FATAL", "cryptocustomrand=0"}, hsm.main.PIN})
	}
	cases = append(cases, []testCase{
		{"fips140=only", []string{uri, "GODEBUG=fips140=only"},
			autoinstallExit, "", []string{"FATAL", "fips140=only", "entropyd"}, ""},
		{"nothing configured", nil,
			autoinstallExit, "", []string{"hsmrand/autoinstall: FATAL", "no HSM configured", EnvURI}, ""},
		{"wrong PIN", []string{"VAULT_HSM_LIB=" + hsm.main.Module, "VAULT_HSM_TOKEN_LABEL=" + hsm.main.Label, "VAULT_HSM_PIN=" + wrongPIN},
			autoinstallExitPIN, "", []string{"hsmrand/autoinstall: FATAL", "CKR_PIN_INCORRECT", "exit status 3"}, wrongPIN},
		{"bad policy", []string{EnvURI + "=pkcs11:token=x?module-path=/x.so", EnvPolicy + "=maybe"},
			autoinstallExit, "", []string{"FATAL", EnvPolicy}, ""},
	}...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(prog)
			cmd.Env = append(cleanEnv(), tc.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tc.exit, code, "exit status (stderr: %s)", stderr.String())
			assert.Equal(t, tc.stdout, stdout.String(), "stdout (stderr: %s)", stderr.String())
			for _, w := range tc.stderr {
				assert.Contains(t, stderr.String(), w, "stderr does not say %q", w)
			}
			if tc.notStderr != "" {
				assert.NotContains(t, stderr.String(), tc.notStderr, "stderr shows the PIN")
			}

			if tc.exit != 0 {
				t.Logf("stderr:\n%s", stderr.String())
			}
		})
	}
}

// autoinstallExit and autoinstallExitPIN are autoinstall.ExitCode and
// ExitPIN (importing the package here would make an import cycle).
const (
	autoinstallExit    = 2
	autoinstallExitPIN = 3
)

// buildFIPS reports whether this binary (and the test program, built the
// same way) was built with GOFIPS140, which defaults to fips140=on.
func buildFIPS() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "GOFIPS140" {
			return s.Value != "" && s.Value != "off"
		}
	}
	return false
}

// keygenSuffix is what KeyGeneration adds to GODEBUG in the test program:
// nothing where cryptocustomrand is on by default (a go.mod that says go
// 1.25) or unknown (Go 1.25).
func keygenSuffix() string {
	if keysFollowReader() {
		return ""
	}
	return ",cryptocustomrand=1"
}

// cleanEnv is the environment without hsmrand's, Vault's and GODEBUG
// variables; SOFTHSM2_CONF stays.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HSMRAND_") && !strings.HasPrefix(kv, "VAULT_HSM_") && !strings.HasPrefix(kv, "GODEBUG=") {
			env = append(env, kv)
		}
	}
	return env
}
