package assess

import (
	"bytes"
	"math/rand/v2"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bzip2Len runs the system bzip2 (libbzip2 1.0.x) at level 5, the tool's
// setting, and returns the length of its output.
func bzip2Len(t *testing.T, path string, src []byte) int {
	t.Helper()
	cmd := exec.Command(path, "-5", "-c")
	cmd.Stdin = bytes.NewReader(src)
	out, err := cmd.Output()
	require.NoError(t, err, "bzip2")
	return len(out)
}

// TestBzip2SizeMatchesLibbzip2 compares bzip2Sizer with the system bzip2 on
// inputs that exercise every branch: runs for run-length stage 1, block
// boundaries, periodic blocks, few and many symbols, table counts 2 to 6.
func TestBzip2SizeMatchesLibbzip2(t *testing.T) {
	path, err := exec.LookPath("bzip2")
	if err != nil {
		t.Skip("bzip2 not installed; the tool-output tests still check the compression statistic")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	cases := map[string][]byte{
		"empty":    {},
		"one":      {'7'},
		"run4":     bytes.Repeat([]byte{'a'}, 4),
		"run300":   bytes.Repeat([]byte{'a'}, 300),
		"periodic": bytes.Repeat([]byte("ab"), 5000),
		"allsame":  bytes.Repeat([]byte{0}, bzBlockMax+10),
	}
	for _, n := range []int{10, 150, 500, 1000, 2000, 5000, 100000, bzBlockMax - 1, bzBlockMax, bzBlockMax + 1, 1100000} {
		b := make([]byte, n)
		for i := range b {
			b[i] = "0123456789 "[rng.IntN(11)]
		}
		cases["digits"+string(rune('a'+len(cases)))] = b
		r := make([]byte, n)
		for i := range r {
			if rng.IntN(8) == 0 {
				r[i] = byte(rng.IntN(256))
			} else {
				r[i] = 'x' + byte(rng.IntN(2))
			}
		}
		cases["runs"+string(rune('a'+len(cases)))] = r
	}
	var z bzip2Sizer
	for name, src := range cases {
		assert.Equal(t, bzip2Len(t, path, src), z.size(src), "%s (%d bytes): size, libbzip2's", name, len(src))
	}
}

// BenchmarkBzip2Size times the compression statistic's bzip2 length of the
// text of 1,000,000 8-bit samples (about 3.6 MB, eight blocks).
func BenchmarkBzip2Size(b *testing.B) {
	d := mustPrepare(b, randomSamples(MinSamples, 256, 1))
	src := newPermSource(d, 0, 0)
	var w permScratch
	src.compression(d.Symbols, &w)
	b.SetBytes(int64(len(w.text)))
	b.ReportAllocs()
	for b.Loop() {
		src.compression(d.Symbols, &w)
	}
}
