package assess

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// noisy returns n samples of the given width, from a fixed seed.
func noisy(n, bits int) []byte {
	r := rand.New(rand.NewChaCha8([32]byte{1}))
	s := make([]byte, n)
	for i := range s {
		s[i] = byte(r.Uint32()) & byte(1<<bits-1)
	}
	return s
}

// TestNonIIDWhichEstimators checks which estimators run on which sequence,
// as the tool decides: the bitstring when there are more than two values or
// the dataset is conditioned, the three bit-string estimators on the
// samples only when there are two values.
func TestNonIIDWhichEstimators(t *testing.T) {
	const n = 20000
	two := noisy(n, 1)
	for i := range two {
		two[i] <<= 7 // two values, 0 and 0x80, in 8-bit samples
	}
	for _, tc := range []struct {
		name               string
		raw                []byte
		opts               NonIIDOptions
		original, bitstr   bool
		literalCount       int
		bitsPerSample, bsl int
	}{
		{"4-bit", noisy(n, 4), NonIIDOptions{}, true, true, 7, 4, 4 * n},
		{"1-bit", noisy(n, 1), NonIIDOptions{}, true, false, 10, 1, n},
		{"two 8-bit values", two, NonIIDOptions{}, true, false, 10, 8, 8 * n},
		{"conditioned", noisy(n, 4), NonIIDOptions{Conditioned: true}, false, true, 0, 4, 4 * n},
		{"conditioned 1-bit", noisy(n, 1), NonIIDOptions{Conditioned: true}, false, true, 0, 1, n},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Prepare(tc.raw, 0)
			require.NoError(t, err)
			r, err := NonIID(t.Context(), d, tc.opts)
			require.NoError(t, err)
			require.Equal(t, tc.original, r.OriginalRun, "original run")
			require.Equal(t, tc.bitstr, r.BitstringRun, "bitstring run")
			require.Equal(t, tc.bitsPerSample, r.Bits, "bits")
			require.Equal(t, tc.bsl, r.BitstringLen, "bitstring length")
			assert.Len(t, r.Literal.Estimates(), tc.literalCount, "estimates on the samples")
			wantBin := 0
			if tc.bitstr {
				wantBin = 10
			}
			assert.Len(t, r.Bitstring.Estimates(), wantBin, "estimates on the bitstring")
			// The assessment is the minimum of the pieces, per Section 3.1.3.
			want := float64(r.Bits)
			if r.OriginalRun {
				want = min(want, r.HOriginal)
			}
			if r.BitstringRun {
				want = min(want, float64(r.Bits)*r.HBitstring)
			}
			assert.Equal(t, want, r.HAssessed, "HAssessed")
			assert.Positive(t, r.HAssessed, "HAssessed")
		})
	}
}

func TestNonIIDTruncate(t *testing.T) {
	d, err := Prepare(noisy(MinSamples/4, 8), 0)
	require.NoError(t, err)
	r, err := NonIID(t.Context(), d, NonIIDOptions{Truncate: true})
	require.NoError(t, err)
	assert.Equal(t, MinSamples, r.BitstringLen, "BitstringLen")
}

// TestNonIIDWorkersAgree checks that the result does not depend on how many
// estimators run at once, and that progress counts every estimator once.
func TestNonIIDWorkersAgree(t *testing.T) {
	d, err := Prepare(noisy(30000, 3), 0)
	require.NoError(t, err)
	// Nine jobs on the bitstring (t-Tuple and LRS are one), six on the
	// samples.
	const jobs = 9 + 6
	var calls []int
	one, err := NonIID(t.Context(), d, NonIIDOptions{Workers: 1, Progress: func(done, total int, name string) {
		// assert, not require: Progress runs on a worker's goroutine.
		assert.Equal(t, jobs, total, "progress(%d, %d, %q): total", done, total, name)
		assert.NotEmpty(t, name, "progress(%d, %d, %q): no estimator name", done, total, name)
		calls = append(calls, done)
	}})
	require.NoError(t, err)
	if assert.Len(t, calls, jobs, "progress calls %v, want 1..%d", calls, jobs) {
		assert.Equal(t, jobs, calls[jobs-1], "progress calls %v, want 1..%d", calls, jobs)
	}
	four, err := NonIID(t.Context(), d, NonIIDOptions{Workers: 4})
	require.NoError(t, err)
	assert.Equal(t, one, four, "1 worker and 4 workers disagree")
}

func TestNonIIDCancel(t *testing.T) {
	d, err := Prepare(noisy(30000, 8), 0)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = NonIID(ctx, d, NonIIDOptions{})
	assert.ErrorIs(t, err, context.Canceled, "NonIID on a cancelled context")
}

func TestWriteTable(t *testing.T) {
	d, err := Prepare(noisy(20000, 4), 0)
	require.NoError(t, err)
	r, err := NonIID(t.Context(), d, NonIIDOptions{})
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, r.WriteTable(&buf))
	out := buf.String()
	for _, want := range []string{"Most Common Value", "6.3.10", "LZ78Y Test", "Assessed min-entropy", "less than 1000000 samples", "H_bitstring"} {
		assert.Contains(t, out, want, "table lacks %q", want)
	}
}

// FuzzNonIID runs the whole track on arbitrary short inputs: no estimator
// may panic, and the assessment must lie in [0, Bits].
func FuzzNonIID(f *testing.F) {
	f.Add([]byte{0, 1}, 0)
	f.Add([]byte{0x3, 0x9, 0x3, 0xC, 0x3, 0x9, 0x1}, 4)
	f.Add(noisy(7000, 1), 0)
	f.Add(noisy(300, 8), 0)
	for _, name := range []string{"rand1_short", "rand4_short", "rand8_short"} {
		if raw := seedSamples(f, name); raw != nil {
			f.Add(raw[:1000], 0)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte, bits int) {
		if len(raw) > 8000 {
			return
		}
		d, err := Prepare(raw, bits)
		if err != nil {
			return
		}
		r, err := NonIID(t.Context(), d, NonIIDOptions{Workers: 1})
		require.NoError(t, err)
		require.GreaterOrEqual(t, r.HAssessed, 0.0, "HAssessed for %d-bit samples", d.Bits)
		require.LessOrEqual(t, r.HAssessed, float64(d.Bits), "HAssessed for %d-bit samples", d.Bits)
	})
}
