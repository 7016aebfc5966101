package assess

// Suffix arrays and longest-common-prefix arrays, the structure behind the
// t-Tuple and LRS estimates (SP 800-90B Sections 6.3.5 and 6.3.6) and the
// IID track's longest repeated substring test (Section 5.2.5).
//
// Within the package (symbols must lie in 0..k-1, k <= 256):
//
//	suffixArray(s, k)               the suffix array of s
//	suffixLCP(s, k)                 the LCP array of s, in suffix array order
//	longestRepeatedSubstring(s, k)  the length of the longest repeat in s
//
// Both first try sorting by packed 64-bit windows (suffix_words.go), fast
// on inputs without long repeats; an input with long repeats falls back to
// SA-IS (suffix_sais.go), linear whatever the input, and Kasai's LCP
// (lcpInPlace). Indexes are 32-bit. For the 8,000,000-bit bitstring of
// 1,000,000 8-bit samples the fast path needs the 32 MB array, a 1 MB packed
// copy and 4 MB of buckets; the fallback about 72 MB.

// maxSuffixLen is the longest input the 32-bit indexes can hold.
const maxSuffixLen = 1<<31 - 2

// suffixArray returns the suffix array of s, whose symbols lie in 0..k-1:
// the starting positions of the suffixes of s in increasing lexicographic
// order, a shorter suffix sorting before every longer one it prefixes.
func suffixArray(s []byte, k int) []int32 {
	checkSuffixInput(s, k)
	if sa, ok := newPackedSeq(s, k).sortSuffixes(); ok {
		return sa
	}
	sa := make([]int32, len(s))
	sais(s, sa, k)
	return sa
}

// suffixLCP returns the LCP array of s, whose symbols lie in 0..k-1: entry
// i is the length of the longest common prefix of the suffixes ranked i-1
// and i in the suffix array, entry 0 is 0.
func suffixLCP(s []byte, k int) []int32 {
	checkSuffixInput(s, k)
	p := newPackedSeq(s, k)
	if sa, ok := p.sortSuffixes(); ok && p.lcpInPlace(sa) {
		return sa
	}
	sa := make([]int32, len(s))
	sais(s, sa, k)
	lcpInPlace(s, sa)
	return sa
}

func checkSuffixInput(s []byte, k int) {
	if len(s) > maxSuffixLen || k < 1 || k > 256 {
		panic("assess: internal error: suffix array input out of range")
	}
}

// lcpInPlace overwrites the suffix array sa of s with its LCP array:
// entry i becomes the length of the longest common prefix of the suffixes
// ranked i-1 and i, and entry 0 becomes 0.
func lcpInPlace(s []byte, sa []int32) {
	n := len(s)
	if n == 0 {
		return
	}
	// phi[p] is the suffix ranked just before suffix p (-1 for the first).
	plcp := make([]int32, n)
	plcp[sa[0]] = -1
	for i := 1; i < n; i++ {
		plcp[sa[i]] = sa[i-1]
	}
	// In text order, the common prefix with the predecessor shrinks by at
	// most one from one position to the next, so the scan is linear.
	h := 0
	for i := 0; i < n; i++ {
		j := int(plcp[i])
		if j < 0 {
			plcp[i] = 0
			h = 0
			continue
		}
		for i+h < n && j+h < n && s[i+h] == s[j+h] {
			h++
		}
		plcp[i] = int32(h)
		if h > 0 {
			h--
		}
	}
	for i, p := range sa {
		sa[i] = plcp[p]
	}
}

// longestRepeatedSubstring returns the length of the longest substring that
// occurs at least twice (possibly overlapping) in s, whose symbols lie in
// 0..k-1; 0 when no symbol repeats. This is the W of SP 800-90B Section
// 5.2.5 (the tool's len_LRS).
func longestRepeatedSubstring(s []byte, k int) int {
	v := int32(0)
	for _, l := range suffixLCP(s, k) {
		v = max(v, l)
	}
	return int(v)
}
