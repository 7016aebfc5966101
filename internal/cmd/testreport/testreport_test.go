package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixtureDir is the fixture module, found before any test changes directory.
var fixtureDir, _ = filepath.Abs("testdata/fixture")

// runFixture runs testreport on the fixture module (testdata/fixture) with
// the given allow-list text and environment, and returns its exit status
// and output.
func runFixture(t *testing.T, allowList string, env map[string]string, args ...string) (int, string) {
	t.Helper()
	t.Chdir(fixtureDir)
	t.Setenv("GOFLAGS", "-mod=mod")
	t.Setenv("FIXTURE_FAIL", env["FIXTURE_FAIL"])
	if allowList != "" {
		f := filepath.Join(t.TempDir(), "allowed-skips")
		require.NoError(t, os.WriteFile(f, []byte(allowList), 0o644))
		args = append([]string{"--allow", f}, args...)
	}
	var out, errOut bytes.Buffer
	code := run(args, func(k string) string {
		if v, ok := env[k]; ok || k == requireEnv {
			return v // the fixture's own setting, not CI's
		}
		return os.Getenv(k)
	}, &out, &errOut)
	t.Log(out.String(), errOut.String())
	return code, out.String()
}

// TestSummaryListsSkips: every skip of a test that never ran is listed with
// its reason; a test skipped under -short and run in the second pass is not.
func TestSummaryListsSkips(t *testing.T) {
	code, out := runFixture(t, "", nil, "--", "-short", "-count=1", ".", "--", "-count=1", "-run", "^TestSkipsWhenShort$", ".")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "ok  \tfixture")
	assert.Contains(t, out, "5 tests passed, 0 failed, 2 skipped\n")
	assert.Contains(t, out, "SKIP fixture TestSkipsAlways (not on the allow-list): fixture_test.go:13: no widget here\n")
	assert.Contains(t, out, "SKIP fixture TestSub/skips (not on the allow-list): fixture_test.go:25: sub-widget missing\n")
	assert.NotContains(t, out, "SKIP fixture TestSkipsWhenShort")
	assert.NotContains(t, out, "=== RUN", "framing lines of passing tests are not shown")
}

// TestRequireNoSkips: under HSMENTROPY_REQUIRE_NO_SKIPS=1 a skip not on
// the allow-list fails the command, and one on it does not.
func TestRequireNoSkips(t *testing.T) {
	strict := map[string]string{requireEnv: "1"}
	code, out := runFixture(t, "# widgets are rare\nfixture TestSkipsAlways\n", strict, "--", "-count=1", ".")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "SKIP fixture TestSkipsAlways (allowed)")
	assert.Contains(t, out, "FAIL: skips not on the allow-list: 1")

	code, out = runFixture(t, "# widgets are rare\nfixture TestSkipsAlways|TestSub/.*\n", strict, "--", "-count=1", ".")
	assert.Equal(t, 0, code, out)
}

// TestFailureShown: a failing test's output is shown and the status is 1,
// whatever the skips.
func TestFailureShown(t *testing.T) {
	code, out := runFixture(t, "", map[string]string{"FIXTURE_FAIL": "1"}, "--", "-count=1", ".")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "failing as asked")
	assert.Contains(t, out, "--- FAIL: TestFailsOnRequest")
	assert.Contains(t, out, "FAIL\tfixture")
}

// TestAllowListNeedsComments: an entry with no comment above it is refused.
func TestAllowListNeedsComments(t *testing.T) {
	f := filepath.Join(t.TempDir(), "allowed-skips")
	require.NoError(t, os.WriteFile(f, []byte("# why\nfixture TestA\n\nfixture TestB\n"), 0o644))
	_, err := readAllowList(f)
	require.Error(t, err)
	assert.Contains(t, err.Error(), ":4: an entry without a comment")
}

// TestRepositoryAllowList: the repository's list parses, and is short.
func TestRepositoryAllowList(t *testing.T) {
	allow, err := readAllowList("../../../.ci/allowed-skips")
	require.NoError(t, err)
	assert.LessOrEqual(t, len(allow), 10)
}

func TestParseArgs(t *testing.T) {
	for _, bad := range [][]string{{}, {"--"}, {"--allow"}, {"-x", "--", "./..."}, {"--", "./...", "--"}} {
		_, _, err := parseArgs(bad)
		assert.Error(t, err, strings.Join(bad, " "))
	}
	allow, runs, err := parseArgs([]string{"--allow", "f", "--", "-race", "./...", "--", "-run", "X", "./y"})
	require.NoError(t, err)
	assert.Equal(t, "f", allow)
	assert.Equal(t, [][]string{{"-race", "./..."}, {"-run", "X", "./y"}}, runs)
}
