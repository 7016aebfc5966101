package nistdata

import (
	"fmt"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFindRepository: with the variable unset, Find walks up from this
// package's directory to the repository's testdata/nist.
func TestFindRepository(t *testing.T) {
	t.Setenv(Env, "")
	dir, err := Find()
	require.NoError(t, err)
	abs, err := filepath.Abs("../../testdata/nist")
	require.NoError(t, err)
	assert.Equal(t, abs, dir)
	assert.FileExists(t, filepath.Join(dir, "drbgvectors", "no_reseed_CTR_DRBG_AES-256_no_df.rsp"))
}

// TestFindEnv: the variable wins, and a directory it names that does not
// exist is an error, not a fall-back.
func TestFindEnv(t *testing.T) {
	other := t.TempDir()
	t.Setenv(Env, other)
	dir, err := Find()
	require.NoError(t, err)
	assert.Equal(t, other, dir)

	t.Setenv(Env, filepath.Join(other, "missing"))
	_, err = Find()
	assert.ErrorContains(t, err, Env)
}

// TestFindOutsideModule: from a directory with no module above it the error
// names the variable to set.
func TestFindOutsideModule(t *testing.T) {
	t.Setenv(Env, "")
	t.Chdir(t.TempDir())
	_, err := Find()
	assert.ErrorContains(t, err, Env)
	assert.NotContains(t, err.Error(), "shared")
}

// TestDirRequired: under HSMENTROPY_REQUIRE_TESTDATA=1 missing data fails
// the test rather than skipping it.
func TestDirRequired(t *testing.T) {
	t.Setenv(Env, filepath.Join(t.TempDir(), "missing"))
	for _, tc := range []struct {
		require         string
		skipped, failed bool
	}{
		{"", true, false},
		{"1", false, true},
	} {
		t.Setenv(RequireEnv, tc.require)
		rec := &recorder{TB: t}
		done := make(chan struct{})
		go func() { // Skip and Fatal end the goroutine
			defer close(done)
			Dir(rec)
		}()
		<-done
		assert.Equal(t, tc.skipped, rec.skipped, "%s=%q: skipped", RequireEnv, tc.require)
		assert.Equal(t, tc.failed, rec.failed, "%s=%q: failed", RequireEnv, tc.require)
		assert.NotContains(t, rec.msg, "shared")
	}
}

// recorder is a testing.TB whose Skip and Fatal record the outcome.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) {
	r.skipped, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}
