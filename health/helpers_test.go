package health

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hsmentropy/hsmentropy/internal/nistdata"
	"github.com/stretchr/testify/require"
)

// newTester returns a Tester for cfg or fails the test.
func newTester(t testing.TB, cfg Config) *Tester {
	t.Helper()
	tr, err := NewTester(cfg)
	require.NoError(t, err)
	return tr
}

// feed writes stream to tr, carrying on after intermittent failures, and
// returns the failures, up to and including the first permanent one.
func feed(t testing.TB, tr *Tester, stream []byte) []Failure {
	t.Helper()
	var fs []Failure
	for p := stream; len(p) > 0; {
		n, err := tr.Write(p)
		p = p[n:]
		if err == nil {
			continue
		}
		var f *Failure
		require.ErrorAs(t, err, &f, "Write returned an error that is not a *Failure")
		fs = append(fs, *f)
		if f.Kind == Permanent {
			break
		}
	}
	return fs
}

// cycle returns n samples counting up from start modulo m (m ≥ 2): no
// sample equals its predecessor, and each value comes once every m samples.
func cycle(n, start, m int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte((start + i) % m)
	}
	return p
}

// spread returns a window of w samples in which exactly k (1 ≤ k ≤ w),
// the first among them, equal a, at positions floor(j·w/k); the others run
// through the values mod m other than a (for m = 2, all are 1-a).
func spread(w, k int, a byte, m int) []byte {
	p := make([]byte, w)
	isA := make([]bool, w)
	for j := range k {
		isA[j*w/k] = true
	}
	others := 0
	for i := range p {
		if isA[i] {
			p[i] = a
			continue
		}
		p[i] = byte((int(a) + 1 + others%(m-1)) % m)
		others++
	}
	return p
}

// positions returns the indexes of the samples of p equal to a.
func positions(p []byte, a byte) []int {
	var at []int
	for i, x := range p {
		if x == a {
			at = append(at, i)
		}
	}
	return at
}

// readTestdata reads a file of NIST's reference data (internal/nistdata),
// skipping the test when there is none (failing it when
// HSMENTROPY_REQUIRE_TESTDATA=1).
func readTestdata(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(nistdata.Dir(t), filepath.FromSlash(rel)))
	require.NoError(t, err)
	return b
}
