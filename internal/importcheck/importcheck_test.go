// Package importcheck holds tests that enforce the direction of imports
// described in docs/design.md, in the manner of
// crypto/internal/fips140deps, for the packages and for their tests.
//
// A package's tests may import what the package may depend on, the
// package itself, and the test support below (testify, testscript, the
// NIST data and the SoftHSM, fault-module and p11-kit fixtures); the
// building blocks' tests never import what is built on them. The rule on
// who imports miekg/pkcs11 directly binds packages, not tests: tests of
// the layers above the token layer use the module directly as a second
// in-process user (module lifetime, re-initialisation), which is what they
// test. Test imports are checked one level deep: the fixtures' own
// dependencies are theirs, and no product package imports a fixture.
package importcheck

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/hsmentropy/hsmentropy"

// rule says which non-standard-library packages a package (and everything it
// pulls in) may depend on. Prefixes are matched on path boundaries.
type rule struct {
	pkg   string   // the package, relative to the module; a trailing "/..." covers subpackages
	allow []string // allowed non-stdlib dependencies, module-relative ("mixer") or absolute
}

var rules = []rule{
	{"mixer", nil},
	{"health", nil},
	{"health/assess", nil},
	{"kernelfeed", []string{"golang.org/x/sys"}},
	{"hsmrand/internal/p11", []string{"github.com/miekg/pkcs11"}},
	{"internal/refill", []string{"health"}},
	{"hsmrand", []string{"mixer", "health", "hsmrand/internal/p11", "internal/refill", "github.com/miekg/pkcs11"}},
	// entropyd's engine: the libraries, never Prometheus or the command.
	{"internal/engine", []string{"mixer", "health", "kernelfeed", "hsmrand", "hsmrand/internal/p11", "internal/refill", "github.com/miekg/pkcs11", "golang.org/x/sys"}},
}

// Direct imports of these modules are reserved to one package (prefix).
var owners = map[string]string{
	"github.com/miekg/pkcs11":             module + "/hsmrand/internal/p11",
	"github.com/prometheus/client_golang": module + "/cmd/entropyd",
	"github.com/prometheus/client_model":  module + "/cmd/entropyd",
	"github.com/prometheus/common":        module + "/cmd/entropyd",
}

// testSupport are the packages any test may import besides its package's
// allowed dependencies.
var testSupport = []string{
	"github.com/stretchr/testify",
	"github.com/rogpeppe/go-internal/testscript",
	"internal/nistdata",
	"internal/softhsmtest",
	"internal/faultp11",
	"internal/p11kittest",
}

type pkgInfo struct {
	path        string
	imports     []string
	deps        []string
	testImports []string // of the _test.go files, both packages
}

func listPackages(t *testing.T) []pkgInfo {
	t.Helper()
	gobin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command is needed to list packages")
	cmd := exec.Command(gobin, "list", "-e", "-deps=false",
		"-f", `{{.ImportPath}}	{{join .Imports " "}}	{{join .Deps " "}}	{{join .TestImports " "}} {{join .XTestImports " "}}`, module+"/...")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	require.NoError(t, err, "go list")
	var pkgs []pkgInfo
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		f := strings.Split(line, "\t")
		require.Len(t, f, 4, "go list: unexpected line %q", line)
		pkgs = append(pkgs, pkgInfo{f[0], strings.Fields(f[1]), strings.Fields(f[2]), strings.Fields(f[3])})
	}
	return pkgs
}

func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func hasPrefix(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

func abs(p string) string {
	if strings.Contains(strings.SplitN(p, "/", 2)[0], ".") {
		return p
	}
	return module + "/" + p
}

// allowedBy reports whether dep is within one of the prefixes.
func allowedBy(dep string, prefixes []string) bool {
	for _, a := range prefixes {
		if hasPrefix(dep, abs(a)) {
			return true
		}
	}
	return false
}

// ruleFor returns the most specific rule covering pkg.
func ruleFor(pkg string) (rule, bool) {
	var best rule
	found := false
	for _, r := range rules {
		if hasPrefix(pkg, abs(r.pkg)) && (!found || len(r.pkg) > len(best.pkg)) {
			best, found = r, true
		}
	}
	return best, found
}

func TestDependencyRules(t *testing.T) {
	pkgs := listPackages(t)
	require.NotEmpty(t, pkgs, "go list found no packages")
	for _, p := range pkgs {
		r, ok := ruleFor(p.path)
		if !ok {
			continue
		}
		for _, d := range p.deps {
			if isStd(d) || hasPrefix(d, abs(r.pkg)) {
				continue
			}
			assert.True(t, allowedBy(d, r.allow), "%s depends on %s; allowed beyond the standard library: %v", p.path, d, r.allow)
		}
	}
}

// TestTestImports applies the rules to the imports of each package's tests.
func TestTestImports(t *testing.T) {
	checked := 0
	for _, p := range listPackages(t) {
		r, ok := ruleFor(p.path)
		if !ok {
			continue
		}
		for _, d := range p.testImports {
			if isStd(d) || hasPrefix(d, abs(r.pkg)) {
				continue
			}
			checked++
			assert.True(t, allowedBy(d, r.allow) || allowedBy(d, testSupport),
				"a test of %s imports %s; allowed beyond the standard library: %v and the test support %v", p.path, d, r.allow, testSupport)
		}
	}
	require.NotZero(t, checked, "no test imports were checked: go list gave none")
}

func TestImportOwners(t *testing.T) {
	for _, p := range listPackages(t) {
		for _, imp := range p.imports {
			for mod, owner := range owners {
				if hasPrefix(imp, mod) {
					assert.True(t, hasPrefix(p.path, owner), "%s imports %s; only %s may", p.path, imp, owner)
				}
			}
		}
	}
}

// TestLibrariesDoNotImportUpward checks that the building blocks, and their
// tests, never import the packages built on them.
func TestLibrariesDoNotImportUpward(t *testing.T) {
	for _, p := range listPackages(t) {
		for _, lib := range []string{"mixer", "health", "kernelfeed"} {
			if !hasPrefix(p.path, abs(lib)) {
				continue
			}
			for _, d := range append(p.deps, p.testImports...) {
				assert.False(t, hasPrefix(d, abs("hsmrand")) || hasPrefix(d, abs("cmd")) || hasPrefix(d, abs("internal/engine")),
					"%s (or its test) depends on %s", p.path, d)
			}
		}
	}
}

// TestFixturesStayInTests checks that no package of the product (anything
// but the fixtures themselves and the internal test tools) depends on a
// test fixture.
func TestFixturesStayInTests(t *testing.T) {
	tools := []string{"internal/cmd", "internal/importcheck"}
	for _, p := range listPackages(t) {
		if allowedBy(p.path, testSupport) || allowedBy(p.path, tools) {
			continue
		}
		for _, d := range p.deps {
			assert.False(t, hasPrefix(d, module) && allowedBy(d, testSupport), "%s depends on the test fixture %s", p.path, d)
		}
	}
}
