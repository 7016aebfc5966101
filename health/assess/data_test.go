package assess

import (
	"bytes"
	"errors"
	"testing"
)

func TestPrepare(t *testing.T) {
	// Values 0x3, 0x9, 0x3, 0xC: width 4 inferred, three values seen.
	d, err := Prepare([]byte{0x3, 0x9, 0x3, 0xC}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d.Bits != 4 || d.K != 3 {
		t.Errorf("Bits, K = %d, %d; want 4, 3", d.Bits, d.K)
	}
	if want := []byte{0, 1, 0, 2}; !bytes.Equal(d.Symbols, want) {
		t.Errorf("Symbols = %v, want %v", d.Symbols, want)
	}
	// The bitstring is made from the values, not the renumbered symbols.
	want := []byte{0, 0, 1, 1, 1, 0, 0, 1, 0, 0, 1, 1, 1, 1, 0, 0}
	if !bytes.Equal(d.Bitstring, want) {
		t.Errorf("Bitstring = %v, want %v", d.Bitstring, want)
	}
	if len(d.Warnings) != 1 || !errors.Is(d.Warnings[0], ErrFewSamples) {
		t.Errorf("Warnings = %v, want ErrFewSamples", d.Warnings)
	}

	// A width given wider than the data: a warning, and the bitstring has
	// the width given.
	d, err = Prepare([]byte{1, 0, 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(d.Warnings[0], ErrNarrow) || len(d.Bitstring) != 6 {
		t.Errorf("Warnings = %v, len(Bitstring) = %d; want ErrNarrow, 6", d.Warnings, len(d.Bitstring))
	}
}

func TestPrepareErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  []byte
		bits int
		want error
	}{
		{"empty", nil, 0, ErrEmpty},
		{"too wide", []byte{0, 0x10}, 4, ErrTooWide},
		{"too wide 1 bit", []byte{0, 2}, 1, ErrTooWide},
		{"one value", []byte{7, 7, 7}, 0, ErrOneSymbol},
		{"all zero", []byte{0, 0}, 0, ErrOneSymbol},
		{"one value, width given", []byte{1, 1}, 8, ErrOneSymbol},
	} {
		if _, err := Prepare(tc.raw, tc.bits); !errors.Is(err, tc.want) {
			t.Errorf("%s: Prepare = %v, want %v", tc.name, err, tc.want)
		}
	}
	for _, bits := range []int{-1, 9} {
		if _, err := Prepare([]byte{0, 1}, bits); err == nil {
			t.Errorf("Prepare(bits=%d) succeeded", bits)
		}
	}
}

func TestBitstringFor(t *testing.T) {
	raw := make([]byte, MinSamples/4+1)
	raw[0] = 0xf
	d, err := Prepare(raw, 8)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(d.BitstringFor(false)); got != 8*len(raw) {
		t.Errorf("all bits: %d, want %d", got, 8*len(raw))
	}
	if got := len(d.BitstringFor(true)); got != MinSamples {
		t.Errorf("truncated: %d bits, want %d", got, MinSamples)
	}
}

// FuzzPrepare checks the invariants of prepared data: symbols below K, K
// values seen, order kept, and the bitstring spelling the masked samples.
func FuzzPrepare(f *testing.F) {
	f.Add([]byte{0x3, 0x9, 0x3, 0xC}, 0)
	f.Add([]byte{0, 1, 1, 0}, 1)
	for _, name := range []string{"rand1_short", "rand4_short", "rand8_short"} {
		if raw := seedSamples(f, name); raw != nil {
			f.Add(raw[:256], 0)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte, bits int) {
		d, err := Prepare(raw, bits)
		if err != nil {
			return
		}
		if len(d.Symbols) != len(raw) || len(d.Bitstring) != len(raw)*d.Bits {
			t.Fatalf("lengths %d, %d for %d samples of %d bits", len(d.Symbols), len(d.Bitstring), len(raw), d.Bits)
		}
		seen := make([]bool, d.K)
		for i, s := range d.Symbols {
			if int(s) >= d.K {
				t.Fatalf("symbol %d ≥ K = %d", s, d.K)
			}
			seen[s] = true
			if i > 0 && (d.Raw[i] < d.Raw[i-1]) != (s < d.Symbols[i-1]) {
				t.Fatalf("renumbering does not keep order at %d", i)
			}
			var v byte
			for _, b := range d.Bitstring[i*d.Bits : (i+1)*d.Bits] {
				v = v<<1 | b
			}
			if v != d.Raw[i] || v != raw[i] {
				t.Fatalf("bitstring spells %#x at %d, sample %#x", v, i, raw[i])
			}
		}
		for v, ok := range seen {
			if !ok {
				t.Fatalf("symbol %d of K = %d never occurs", v, d.K)
			}
		}
	})
}
