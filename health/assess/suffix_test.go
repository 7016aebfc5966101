package assess

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// naiveSuffixArray sorts the suffixes of s by comparison.
func naiveSuffixArray(s []byte) []int32 {
	sa := make([]int32, len(s))
	for i := range sa {
		sa[i] = int32(i)
	}
	slices.SortFunc(sa, func(a, b int32) int { return bytes.Compare(s[a:], s[b:]) })
	return sa
}

func naiveLCP(s []byte, sa []int32) []int32 {
	lcp := make([]int32, len(sa))
	for i := 1; i < len(sa); i++ {
		a, b := s[sa[i-1]:], s[sa[i]:]
		l := 0
		for l < len(a) && l < len(b) && a[l] == b[l] {
			l++
		}
		lcp[i] = int32(l)
	}
	return lcp
}

// suffixInputs returns random, biased, periodic and constant sequences of
// many lengths and alphabets, the shapes that exercise SA-IS's recursion.
func suffixInputs() (out [][2]any) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, k := range []int{2, 3, 4, 16, 256} {
		for _, n := range []int{1, 2, 3, 5, 8, 17, 64, 100, 257, 1000, 4099} {
			s := make([]byte, n)
			for i := range s {
				s[i] = byte(rng.IntN(k))
			}
			out = append(out, [2]any{s, k})
			b := make([]byte, n) // biased: mostly zero
			for i := range b {
				if rng.IntN(10) == 0 {
					b[i] = byte(rng.IntN(k))
				}
			}
			out = append(out, [2]any{b, k})
			p := make([]byte, n) // periodic with a short period
			per := 1 + rng.IntN(7)
			for i := range p {
				p[i] = byte((i % per) % k)
			}
			out = append(out, [2]any{p, k})
			out = append(out, [2]any{make([]byte, n), k})
		}
	}
	return out
}

func TestSuffixArrayAndLCP(t *testing.T) {
	for _, in := range suffixInputs() {
		s, k := in[0].([]byte), in[1].(int)
		want := naiveSuffixArray(s)
		got := suffixArray(s, k)
		require.Equal(t, want, got, "suffixArray(%v, %d)", s, k)
		wantLCP := naiveLCP(s, want)
		lcpInPlace(s, got)
		require.Equal(t, wantLCP, got, "lcp of %v", s)
		v := int32(0)
		for _, l := range wantLCP {
			v = max(v, l)
		}
		require.Equal(t, int(v), longestRepeatedSubstring(s, k), "longestRepeatedSubstring(%v)", s)
	}
}

// FuzzSuffixArray checks SA-IS and the LCP array against sorting.
func FuzzSuffixArray(f *testing.F) {
	f.Add([]byte("mississippi"))
	f.Add([]byte{0, 1, 0, 1, 1, 0, 1, 0, 0, 1})
	f.Add([]byte{3, 3, 3, 3, 3})
	f.Fuzz(func(t *testing.T, s []byte) {
		if len(s) > 2000 {
			s = s[:2000]
		}
		got := suffixArray(s, 256)
		want := naiveSuffixArray(s)
		require.Equal(t, want, got, "suffixArray(%v)", s)
		w := naiveLCP(s, want)
		require.Equal(t, w, suffixLCP(s, 256), "suffixLCP(%v)", s)
		lcpInPlace(s, got)
		require.Equal(t, w, got, "lcp(%v)", s)
		// The same input as a bitstring, one bit per byte.
		b := make([]byte, len(s))
		for i, x := range s {
			b[i] = x & 1
		}
		bw := naiveSuffixArray(b)
		require.Equal(t, bw, suffixArray(b, 2), "suffixArray(%v, 2)", b)
		require.Equal(t, naiveLCP(b, bw), suffixLCP(b, 2), "suffixLCP(%v, 2)", b)
	})
}

// TestSuffixPaths checks both ways of building the arrays, the packed-word
// fast path and SA-IS with Kasai, against sorting, on inputs that take
// either path.
func TestSuffixPaths(t *testing.T) {
	for _, in := range suffixInputs() {
		s, k := in[0].([]byte), in[1].(int)
		want := naiveSuffixArray(s)
		wantLCP := naiveLCP(s, want)
		p := newPackedSeq(s, k)
		if sa, ok := p.sortSuffixes(); ok {
			require.Equal(t, want, sa, "packed sort of %v (k=%d)", s, k)
			if p.lcpInPlace(sa) {
				require.Equal(t, wantLCP, sa, "packed lcp of %v", s)
			}
		}
		sa := make([]int32, len(s))
		sais(s, sa, k)
		require.Equal(t, want, sa, "sais(%v, %d)", s, k)
		lcpInPlace(s, sa)
		require.Equal(t, wantLCP, sa, "Kasai lcp of %v", s)
		require.Equal(t, wantLCP, suffixLCP(s, k), "suffixLCP(%v)", s)
	}
}

// TestSuffixFastPath checks that the packed-word sort takes typical inputs
// (random, biased, with a long repeat, at every symbol width), agrees with
// SA-IS on them, and gives up on a constant input.
func TestSuffixFastPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct {
		name  string
		k     int
		bias  float64 // probability of symbol 0, else uniform
		block int     // length of a block copied from the start to the end
		ok    bool
	}{
		{"random bits", 2, 0, 0, true},
		{"biased bits", 2, 0.85, 0, true},
		{"bits with a 700-bit repeat", 2, 0, 700, true},
		{"random 2-bit", 4, 0, 0, true},
		{"biased 4-bit", 16, 0.7, 0, true},
		{"bytes with a 300-byte repeat", 256, 0, 300, true},
		{"constant", 2, 1, 0, false},
	} {
		s := make([]byte, 200_000)
		for i := range s {
			if rng.Float64() >= tc.bias {
				s[i] = byte(rng.IntN(tc.k))
			}
		}
		copy(s[len(s)-tc.block:], s[:tc.block])
		want := make([]int32, len(s))
		sais(s, want, tc.k)
		p := newPackedSeq(s, tc.k)
		got, ok := p.sortSuffixes()
		assert.Equal(t, tc.ok, ok, "%s: fast path taken", tc.name)
		// slices.Equal, not assert.Equal: a diff of two 200,000-entry
		// arrays would be enormous.
		if ok {
			assert.True(t, slices.Equal(got, want), "%s: packed sort differs from SA-IS", tc.name)
			lcpInPlace(s, want)
			assert.True(t, p.lcpInPlace(got), "%s: packed LCP gave up", tc.name)
			assert.True(t, slices.Equal(got, want), "%s: packed LCP differs from Kasai", tc.name)
		}
	}
}
