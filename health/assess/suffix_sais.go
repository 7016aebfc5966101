package assess

// SA-IS suffix array construction: G. Nong, S. Zhang and W. H. Chan, "Two
// Efficient Algorithms for Linear Time Suffix Array Construction", IEEE
// Transactions on Computers 60(10), 2011. Linear time whatever the input;
// the fallback of suffixArray for inputs with long repeats.

// sais stores the suffix array of s (symbols 0..k-1) in sa, len(sa) ==
// len(s), by SA-IS. A virtual sentinel, smaller than every symbol, ends s.
func sais[T byte | int32](s []T, sa []int32, k int) {
	n := len(s)
	switch n {
	case 0:
		return
	case 1:
		sa[0] = 0
		return
	}

	// Classify the suffixes: S-type when smaller than the next suffix,
	// L-type when larger; the last is L-type (the sentinel follows).
	isS := make([]bool, n)
	for i := n - 2; i >= 0; i-- {
		isS[i] = s[i] < s[i+1] || (s[i] == s[i+1] && isS[i+1])
	}
	// Leftmost S-type positions (LMS): S-type after an L-type.
	isLMS := func(i int) bool { return i > 0 && isS[i] && !isS[i-1] }

	count := make([]int32, k)
	for _, c := range s {
		count[c]++
	}
	bucket := make([]int32, k)

	// Stage 1. Sort the LMS substrings: drop the LMS positions at the ends
	// of their buckets and induce.
	for i := range sa {
		sa[i] = -1
	}
	saisBucketEnds(count, bucket)
	for i := n - 1; i >= 1; i-- {
		if isLMS(i) {
			c := s[i]
			bucket[c]--
			sa[bucket[c]] = int32(i)
		}
	}
	saisInduce(s, sa, isS, count, bucket)

	// Compact the sorted LMS positions into sa[:n1].
	n1 := 0
	for _, p := range sa {
		if isLMS(int(p)) {
			sa[n1] = p
			n1++
		}
	}

	// Stage 2. Name the LMS substrings by rank, equal substrings alike,
	// storing the name of position p at sa[n1+p/2] (LMS positions are at
	// least two apart).
	for i := n1; i < n; i++ {
		sa[i] = -1
	}
	names := int32(0)
	prev := -1
	for i := 0; i < n1; i++ {
		p := int(sa[i])
		if prev < 0 || !saisEqualLMS(s, isS, prev, p) {
			names++
			prev = p
		}
		sa[n1+p/2] = names - 1
	}
	j := n - 1
	for i := n - 1; i >= n1; i-- {
		if sa[i] >= 0 {
			sa[j] = sa[i]
			j--
		}
	}

	// Stage 3. Sort the LMS suffixes: through the reduced string of names,
	// recursively unless every name is distinct.
	s1, sa1 := sa[n-n1:], sa[:n1]
	if int(names) < n1 {
		sais(s1, sa1, int(names))
	} else {
		for i, c := range s1 {
			sa1[c] = int32(i)
		}
	}
	j = 0
	for i := 1; i < n; i++ {
		if isLMS(i) {
			s1[j] = int32(i)
			j++
		}
	}
	for i, r := range sa1 {
		sa1[i] = s1[r]
	}
	for i := n1; i < n; i++ {
		sa[i] = -1
	}

	// Stage 4. Place the sorted LMS suffixes at the ends of their buckets,
	// last first, and induce the rest.
	saisBucketEnds(count, bucket)
	for i := n1 - 1; i >= 0; i-- {
		p := sa[i]
		sa[i] = -1
		c := s[p]
		bucket[c]--
		sa[bucket[c]] = p
	}
	saisInduce(s, sa, isS, count, bucket)
}

// saisInduce induces the order of the L-type suffixes from the LMS entries
// in sa, left to right, then of the S-type suffixes, right to left.
func saisInduce[T byte | int32](s []T, sa []int32, isS []bool, count, bucket []int32) {
	n := len(s)
	saisBucketStarts(count, bucket)
	// The suffix before the sentinel is L-type and first in its bucket.
	c := s[n-1]
	sa[bucket[c]] = int32(n - 1)
	bucket[c]++
	for i := 0; i < n; i++ {
		j := int(sa[i]) - 1
		if j >= 0 && !isS[j] {
			c := s[j]
			sa[bucket[c]] = int32(j)
			bucket[c]++
		}
	}
	saisBucketEnds(count, bucket)
	for i := n - 1; i >= 0; i-- {
		j := int(sa[i]) - 1
		if j >= 0 && isS[j] {
			c := s[j]
			bucket[c]--
			sa[bucket[c]] = int32(j)
		}
	}
}

// saisEqualLMS reports whether the LMS substrings at a and b (from one LMS
// position to the next, inclusive) are equal in symbols and types.
func saisEqualLMS[T byte | int32](s []T, isS []bool, a, b int) bool {
	n := len(s)
	for d := 0; ; d++ {
		if a+d == n || b+d == n {
			// Only one of them reaches the unique sentinel.
			return false
		}
		if s[a+d] != s[b+d] || isS[a+d] != isS[b+d] {
			return false
		}
		if d > 0 {
			endA := !isS[a+d-1] && isS[a+d]
			endB := !isS[b+d-1] && isS[b+d]
			if endA || endB {
				return endA && endB
			}
		}
	}
}

func saisBucketStarts(count, bucket []int32) {
	sum := int32(0)
	for c, x := range count {
		bucket[c] = sum
		sum += x
	}
}

func saisBucketEnds(count, bucket []int32) {
	sum := int32(0)
	for c, x := range count {
		sum += x
		bucket[c] = sum
	}
}
