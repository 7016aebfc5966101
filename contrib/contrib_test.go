// Package contrib holds what an operator installs beside entropyd: alert
// rules and a scrape configuration for Prometheus, a Grafana dashboard,
// the systemd unit, the Debian package's files and the Kubernetes
// manifests (whose checks are a module of their own, kubernetes/validate).
// Its tests check the Prometheus and Grafana files with promtool and against
// the metrics entropyd exports (cmd/entropyd/testdata/metrics.golden).
package contrib

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requirePromtoolEnv, set to 1 (by CI), makes a missing promtool a failure.
const requirePromtoolEnv = "HSMENTROPY_REQUIRE_PROMTOOL"

const (
	goldenFile = "../cmd/entropyd/testdata/metrics.golden"
	rulesFile  = "prometheus/entropyd.rules.yml"
	dashboard  = "grafana/entropyd.json"
)

// foreignMetrics are the metrics the rules and the dashboard may name that
// entropyd does not export: Prometheus's own up, and node_exporter's
// systemd collector.
var foreignMetrics = []string{"up", "node_systemd_unit_state"}

// promtool runs promtool with args in dir, skipping (or, with
// HSMENTROPY_REQUIRE_PROMTOOL=1, failing) the test when it is missing.
func promtool(t *testing.T, dir string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv(requirePromtoolEnv) == "1" {
			require.Failf(t, "promtool not in $PATH", "%s=1: install Debian's prometheus package", requirePromtoolEnv)
		}
		t.Skip("promtool not in $PATH: install Debian's prometheus package")
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
	return string(out)
}

// TestAlertRules checks the rules and runs their unit tests: series in,
// alerts out, and the cases that must not fire.
func TestAlertRules(t *testing.T) {
	promtool(t, "prometheus", "check", "rules", filepath.Base(rulesFile))
	out := promtool(t, "prometheus", "test", "rules", "entropyd.rules.test.yml")
	assert.Contains(t, out, "SUCCESS")
}

// TestPrometheusConfig checks the example configuration, rule files and all.
func TestPrometheusConfig(t *testing.T) {
	promtool(t, "prometheus", "check", "config", "prometheus.yml")
}

// TestEveryAlertTested: each alert of the rules file has a test case that
// expects it to fire and one that expects it not to.
func TestEveryAlertTested(t *testing.T) {
	rules := readFile(t, rulesFile)
	tests := readFile(t, "prometheus/entropyd.rules.test.yml")
	alerts := regexp.MustCompile(`(?m)^\s*- alert: (\w+)$`).FindAllStringSubmatch(rules, -1)
	require.NotEmpty(t, alerts)
	fires := regexp.MustCompile(`alertname: (\w+)\n\s*exp_alerts:\n\s*- exp_labels`)
	quiet := regexp.MustCompile(`alertname: (\w+)\n\s*exp_alerts: \[\]`)
	for _, a := range alerts {
		assert.Contains(t, submatches(fires, tests), a[1], "no test case in which %s fires", a[1])
		assert.Contains(t, submatches(quiet, tests), a[1], "no test case in which %s must not fire", a[1])
		assert.Contains(t, readFile(t, "../docs/operations.md"), "### "+a[1], "no runbook section for %s in docs/operations.md", a[1])
	}
}

func submatches(re *regexp.Regexp, s string) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestDashboardQueriesParse writes every query of the dashboard, with its
// Grafana variables given values, as a recording rule, and has promtool
// check them.
func TestDashboardQueriesParse(t *testing.T) {
	queries := dashboardQueries(t)
	require.NotEmpty(t, queries)
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, q := range queries {
		expr, err := json.Marshal(substituteVariables(q.expr))
		require.NoError(t, err)
		fmt.Fprintf(&b, "      - record: dashboard:query_%d\n        expr: %s\n", i, expr)
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dashboard.rules.yml"), []byte(b.String()), 0o644))
	out := promtool(t, dir, "check", "rules", "dashboard.rules.yml")
	assert.Contains(t, out, fmt.Sprintf("SUCCESS: %d rules found", len(queries)))
}

// TestQueriesNameExportedMetrics: the dashboard and the alert rules name
// only metrics that entropyd exports (or foreignMetrics).
func TestQueriesNameExportedMetrics(t *testing.T) {
	known := goldenMetrics(t)
	check := func(where, expr string) {
		names := metricNames(expr)
		for _, n := range names {
			assert.True(t, known[n] || slices.Contains(foreignMetrics, n), "%s names %s, which entropyd does not export (%s): %s", where, n, goldenFile, expr)
		}
	}
	qs := dashboardQueries(t)
	for _, q := range qs {
		check(q.where, q.expr)
	}
	rules := readFile(t, rulesFile)
	exprs := regexp.MustCompile(`(?s)expr: (?:\|\n(.*?)\n\s*(?:for|labels):|(.*?)\n)`).FindAllStringSubmatch(rules, -1)
	require.Len(t, exprs, strings.Count(rules, "- alert: "), "every rule's expr found")
	for _, e := range exprs {
		check(rulesFile, e[1]+e[2])
	}
}

func TestMetricNames(t *testing.T) {
	for _, tt := range []struct {
		expr string
		want []string
	}{
		{`up{job="entropyd"} == 0`, []string{"up"}},
		{`sum by (instance, code) (rate(entropyd_pkcs11_errors_total{code=~"CKR_(PIN|X)"}[5m])) > 0.01`, []string{"entropyd_pkcs11_errors_total"}},
		{`sum(rate(a_total[$__rate_interval])) without (le) / on (instance) group_left (x) b`, []string{"a_total", "b"}},
		{`histogram_quantile(0.99, sum by (le) (rate(h_bucket{s="{not_a_metric}"}[1m]))) or vector(0)`, []string{"h_bucket"}},
		{`count(x == 1) and bool y offset 5m unless z`, []string{"x", "y", "z"}},
		{`1e-3 * c:recorded + Inf - NaN`, []string{"c:recorded"}},
	} {
		assert.Equal(t, tt.want, metricNames(tt.expr), tt.expr)
	}
}

// query is one PromQL query of the dashboard and where it is.
type query struct{ where, expr string }

// dashboardQueries returns the expr of every target of every panel (rows'
// panels included) and the selector of every label_values variable.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	var d struct {
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Type       string `json:"type"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	require.NoError(t, json.Unmarshal([]byte(readFile(t, dashboard)), &d))
	var qs []query
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				qs = append(qs, query{fmt.Sprintf("panel %q, target %s", p.Title, tg.RefID), tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if !assert.NotNil(t, m, "variable %s: want label_values(selector, label), got %q", v.Name, v.Definition) {
			continue
		}
		qs = append(qs, query{"variable " + v.Name, m[1]})
	}
	return qs
}

type panel struct {
	Title   string `json:"title"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

// substituteVariables gives Grafana's variables values that parse: its
// interval variables a duration, the dashboard's own a regular expression.
func substituteVariables(expr string) string {
	expr = regexp.MustCompile(`\$__(rate_interval|interval|range)\b`).ReplaceAllString(expr, "5m")
	return regexp.MustCompile(`\$\{?\w+\}?`).ReplaceAllString(expr, ".+")
}

// goldenMetrics returns the metric names of the golden file, with the
// series names of histograms (_bucket, _sum, _count).
func goldenMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(readFile(t, goldenFile)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 || f[0] != "#" || f[1] != "TYPE" {
			continue
		}
		names[f[2]] = true
		if f[3] == "histogram" || f[3] == "summary" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[f[2]+s] = true
			}
		}
	}
	require.NotEmpty(t, names, "no # TYPE line in %s", goldenFile)
	return names
}

// promqlKeywords are the identifiers of PromQL that are not metric names.
var promqlKeywords = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
	"group_left", "group_right", "inf", "nan", "atan2", "start", "end"}

// aggregationGrouping matches what follows an aggregation that groups before
// its argument: "sum by (le) (...)".
var aggregationGrouping = regexp.MustCompile(`^(by|without)\s*\(`)

// groupingKeywords are followed by a parenthesised list of label names.
var groupingKeywords = []string{"by", "without", "on", "ignoring", "group_left", "group_right"}

// metricNames returns the metric names an expression selects: the
// identifiers outside label matchers, strings and range brackets that are
// not functions, keywords or the label lists of grouping keywords.
func metricNames(expr string) []string {
	var names []string
	skipTo := func(i int, end byte) int { // i is just past an opening byte
		for ; i < len(expr) && expr[i] != end; i++ {
			if q := expr[i]; q == '"' || q == '\'' || q == '`' {
				for i++; i < len(expr) && expr[i] != q; i++ {
					if expr[i] == '\\' && q != '`' {
						i++
					}
				}
			}
		}
		return i + 1
	}
	isIdent := func(c byte, first bool) bool {
		return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9'
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '{':
			i = skipTo(i+1, '}')
		case c == '[':
			i = skipTo(i+1, ']')
		case c == '"' || c == '\'' || c == '`':
			i = skipTo(i+1, c)
		case c >= '0' && c <= '9' || c == '.':
			for i++; i < len(expr) && (isIdent(expr[i], false) || expr[i] == '.' ||
				(expr[i] == '-' || expr[i] == '+') && (expr[i-1] == 'e' || expr[i-1] == 'E')); i++ {
			}
		case isIdent(c, true):
			j := i + 1
			for j < len(expr) && isIdent(expr[j], false) {
				j++
			}
			word := expr[i:j]
			k := j
			for k < len(expr) && (expr[k] == ' ' || expr[k] == '\n' || expr[k] == '\t') {
				k++
			}
			lower := strings.ToLower(word)
			switch {
			case slices.Contains(groupingKeywords, lower) && k < len(expr) && expr[k] == '(':
				j = skipTo(k+1, ')')
			case slices.Contains(promqlKeywords, lower):
			case k < len(expr) && expr[k] == '(': // a function or an aggregation
			case aggregationGrouping.MatchString(expr[k:]): // sum by (...) (...)
			default:
				names = append(names, word)
			}
			i = j
		default:
			i++
		}
	}
	return names
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}
