// Package nistdata finds NIST's reference data for the standards tests: the
// CAVP DRBG vectors (drbgvectors/), NIST's SP 800-90B sample files with its
// tool's results (sp800-90b/) and the restart sets (sp800-90b-restart/).
//
// The repository carries them in testdata/nist (its README.md says where
// each file came from), so a fresh clone runs every test with plain
// go test ./... . HSMENTROPY_TESTDATA, when set, names another copy.
//
// A test that cannot find the data skips, saying why; with
// HSMENTROPY_REQUIRE_TESTDATA=1 (CI sets it) it fails instead.
package nistdata

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

const (
	// Env names a directory holding the reference data, in place of the
	// repository's testdata/nist.
	Env = "HSMENTROPY_TESTDATA"
	// RequireEnv, set to "1", turns missing reference data from a skipped
	// test into a failed one.
	RequireEnv = "HSMENTROPY_REQUIRE_TESTDATA"
)

// repoDir is the reference data's place in the repository, and sumsFile the
// file that marks it.
const (
	repoDir  = "testdata/nist"
	sumsFile = "SHA256SUMS"
)

// Dir returns the directory of the reference data. When there is none it
// skips tb, or fails it under HSMENTROPY_REQUIRE_TESTDATA=1.
func Dir(tb testing.TB) string {
	tb.Helper()
	dir, err := Find()
	if err != nil {
		if os.Getenv(RequireEnv) == "1" {
			tb.Fatalf("%v (%s=1)", err, RequireEnv)
		}
		tb.Skipf("%v (set %s=1 to make this a failure)", err, RequireEnv)
	}
	return dir
}

// Find returns the directory of the reference data: the one
// HSMENTROPY_TESTDATA names, or else the repository's testdata/nist, looked
// for from the working directory (a package's, under go test) up to the
// module's root.
func Find() (string, error) {
	if dir := os.Getenv(Env); dir != "" {
		if _, err := os.Stat(dir); err != nil {
			return "", fmt.Errorf("NIST reference data: %s: %w", Env, err)
		}
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("NIST reference data: %w", err)
	}
	for dir := wd; ; {
		cand := filepath.Join(dir, filepath.FromSlash(repoDir))
		if _, err := os.Stat(filepath.Join(cand, sumsFile)); err == nil {
			return cand, nil
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return "", fmt.Errorf("NIST reference data: no %s in the module at %s, and %s is not set", repoDir, dir, Env)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("NIST reference data: no go.mod above " + wd + ", and " + Env + " is not set")
		}
		dir = parent
	}
}
