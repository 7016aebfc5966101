// Package importcheck holds a test that enforces the direction of imports
// described in DESIGN.md, in the manner of crypto/internal/fips140deps.
package importcheck

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
	{"internal/refill", nil},
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

type pkgInfo struct {
	path    string
	imports []string
	deps    []string
}

func listPackages(t *testing.T) []pkgInfo {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list packages: %v", err)
	}
	cmd := exec.Command(gobin, "list", "-e", "-deps=false",
		"-f", `{{.ImportPath}}	{{join .Imports " "}}	{{join .Deps " "}}`, module+"/...")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkgInfo
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("go list: unexpected line %q", line)
		}
		pkgs = append(pkgs, pkgInfo{f[0], strings.Fields(f[1]), strings.Fields(f[2])})
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
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	for _, p := range pkgs {
		r, ok := ruleFor(p.path)
		if !ok {
			continue
		}
		for _, d := range p.deps {
			if isStd(d) || hasPrefix(d, abs(r.pkg)) {
				continue
			}
			allowed := false
			for _, a := range r.allow {
				if hasPrefix(d, abs(a)) {
					allowed = true
					break
				}
			}
			if !allowed {
				t.Errorf("%s depends on %s; allowed beyond the standard library: %v", p.path, d, r.allow)
			}
		}
	}
}

func TestImportOwners(t *testing.T) {
	for _, p := range listPackages(t) {
		for _, imp := range p.imports {
			for mod, owner := range owners {
				if hasPrefix(imp, mod) && !hasPrefix(p.path, owner) {
					t.Errorf("%s imports %s; only %s may", p.path, imp, owner)
				}
			}
		}
	}
}

// TestLibrariesDoNotImportUpward checks that the building blocks never import
// the packages built on them.
func TestLibrariesDoNotImportUpward(t *testing.T) {
	for _, p := range listPackages(t) {
		for _, lib := range []string{"mixer", "health", "kernelfeed"} {
			if !hasPrefix(p.path, abs(lib)) {
				continue
			}
			for _, d := range p.deps {
				if hasPrefix(d, abs("hsmrand")) || hasPrefix(d, abs("cmd")) {
					t.Errorf("%s depends on %s", p.path, d)
				}
			}
		}
	}
}
