package assess

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPrepare(t *testing.T) {
	// Values 0x3, 0x9, 0x3, 0xC: width 4 inferred, three values seen.
	d, err := Prepare([]byte{0x3, 0x9, 0x3, 0xC}, 0)
	require.NoError(t, err)
	assert.Equal(t, 4, d.Bits, "Bits")
	assert.Equal(t, 3, d.K, "K")
	assert.Equal(t, []byte{0, 1, 0, 2}, d.Symbols, "Symbols")
	// The bitstring is made from the values, not the renumbered symbols.
	want := []byte{0, 0, 1, 1, 1, 0, 0, 1, 0, 0, 1, 1, 1, 1, 0, 0}
	assert.Equal(t, want, d.Bitstring, "Bitstring")
	if assert.Len(t, d.Warnings, 1, "Warnings") {
		assert.ErrorIs(t, d.Warnings[0], ErrFewSamples, "Warnings")
	}

	// A width given wider than the data: a warning, and the bitstring has
	// the width given.
	d, err = Prepare([]byte{1, 0, 1}, 2)
	require.NoError(t, err)
	require.NotEmpty(t, d.Warnings, "Warnings")
	assert.ErrorIs(t, d.Warnings[0], ErrNarrow, "Warnings")
	assert.Len(t, d.Bitstring, 6, "Bitstring")
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
		_, err := Prepare(tc.raw, tc.bits)
		assert.ErrorIs(t, err, tc.want, tc.name)
	}
	for _, bits := range []int{-1, 9} {
		_, err := Prepare([]byte{0, 1}, bits)
		assert.Error(t, err, "Prepare(bits=%d) succeeded", bits)
	}
}

func TestBitstringFor(t *testing.T) {
	raw := make([]byte, MinSamples/4+1)
	raw[0] = 0xf
	d, err := Prepare(raw, 8)
	require.NoError(t, err)
	assert.Len(t, d.BitstringFor(false), 8*len(raw), "all bits")
	assert.Len(t, d.BitstringFor(true), MinSamples, "truncated")
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
		require.Len(t, d.Symbols, len(raw), "symbols for %d samples", len(raw))
		require.Len(t, d.Bitstring, len(raw)*d.Bits, "bits for %d samples of %d bits", len(raw), d.Bits)
		seen := make([]bool, d.K)
		for i, s := range d.Symbols {
			require.Less(t, int(s), d.K, "symbol at %d", i)
			seen[s] = true
			if i > 0 {
				require.Equal(t, d.Raw[i] < d.Raw[i-1], s < d.Symbols[i-1], "renumbering does not keep order at %d", i)
			}
			var v byte
			for _, b := range d.Bitstring[i*d.Bits : (i+1)*d.Bits] {
				v = v<<1 | b
			}
			require.Equal(t, raw[i], v, "bitstring spells %#x at %d", v, i)
			require.Equal(t, raw[i], d.Raw[i], "Raw at %d", i)
		}
		for v, ok := range seen {
			require.True(t, ok, "symbol %d of K = %d never occurs", v, d.K)
		}
	})
}
