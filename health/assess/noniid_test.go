package assess

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
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
			if err != nil {
				t.Fatal(err)
			}
			r, err := NonIID(t.Context(), d, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if r.OriginalRun != tc.original || r.BitstringRun != tc.bitstr || r.Bits != tc.bitsPerSample || r.BitstringLen != tc.bsl {
				t.Fatalf("original %v, bitstring %v, bits %d, bitstring length %d", r.OriginalRun, r.BitstringRun, r.Bits, r.BitstringLen)
			}
			if got := len(r.Literal.Estimates()); got != tc.literalCount {
				t.Errorf("%d estimates on the samples, want %d", got, tc.literalCount)
			}
			wantBin := 0
			if tc.bitstr {
				wantBin = 10
			}
			if got := len(r.Bitstring.Estimates()); got != wantBin {
				t.Errorf("%d estimates on the bitstring, want %d", got, wantBin)
			}
			// The assessment is the minimum of the pieces, per Section 3.1.3.
			want := float64(r.Bits)
			if r.OriginalRun {
				want = min(want, r.HOriginal)
			}
			if r.BitstringRun {
				want = min(want, float64(r.Bits)*r.HBitstring)
			}
			if r.HAssessed != want || r.HAssessed <= 0 {
				t.Errorf("HAssessed = %v, want %v", r.HAssessed, want)
			}
		})
	}
}

func TestNonIIDTruncate(t *testing.T) {
	d, err := Prepare(noisy(MinSamples/4, 8), 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NonIID(t.Context(), d, NonIIDOptions{Truncate: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.BitstringLen != MinSamples {
		t.Errorf("BitstringLen = %d, want %d", r.BitstringLen, MinSamples)
	}
}

// TestNonIIDWorkersAgree checks that the result does not depend on how many
// estimators run at once, and that progress counts every estimator once.
func TestNonIIDWorkersAgree(t *testing.T) {
	d, err := Prepare(noisy(30000, 3), 0)
	if err != nil {
		t.Fatal(err)
	}
	// Nine jobs on the bitstring (t-Tuple and LRS are one), six on the
	// samples.
	const jobs = 9 + 6
	var calls []int
	one, err := NonIID(t.Context(), d, NonIIDOptions{Workers: 1, Progress: func(done, total int, name string) {
		if total != jobs || name == "" {
			t.Errorf("progress(%d, %d, %q)", done, total, name)
		}
		calls = append(calls, done)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != jobs || calls[jobs-1] != jobs {
		t.Errorf("progress calls %v, want 1..%d", calls, jobs)
	}
	four, err := NonIID(t.Context(), d, NonIIDOptions{Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(one, four) {
		t.Errorf("1 worker and 4 workers disagree:\n%+v\n%+v", one, four)
	}
}

func TestNonIIDCancel(t *testing.T) {
	d, err := Prepare(noisy(30000, 8), 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := NonIID(ctx, d, NonIIDOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("NonIID on a cancelled context: %v", err)
	}
}

func TestWriteTable(t *testing.T) {
	d, err := Prepare(noisy(20000, 4), 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NonIID(t.Context(), d, NonIIDOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"Most Common Value", "6.3.10", "LZ78Y Test", "Assessed min-entropy", "less than 1000000 samples", "H_bitstring"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
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
		if err != nil {
			t.Fatal(err)
		}
		if !(r.HAssessed >= 0 && r.HAssessed <= float64(d.Bits)) {
			t.Fatalf("HAssessed = %v for %d-bit samples", r.HAssessed, d.Bits)
		}
	})
}
