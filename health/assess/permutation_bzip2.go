package assess

// The compression statistic of SP 800-90B, Section 5.1.11, is the length of
// the bzip2-compressed text of the samples. NIST's tool obtains it from
// libbzip2 (BZ2_bzBuffToBuffCompress, blockSize100k 5, workFactor 0); the
// standard library has only a bzip2 decompressor, so bzip2Sizer computes the
// exact length of the stream libbzip2 1.0.x would write, without writing it:
// run-length stage 1, block splitting, Burrows–Wheeler order, move-to-front
// with RUNA/RUNB zero runs, and the multi-table Huffman coder with its
// table-selection iterations and code-length limit, bit for bit as counted.

const (
	bzBlockSize100k = 5                           // the tool's level
	bzBlockMax      = 100000*bzBlockSize100k - 19 // libbzip2's nblockMAX
	bzGroupSize     = 50                          // symbols per selector
	bzIters         = 4                           // table refinement passes
	bzMaxCodeLen    = 17                          // since libbzip2 1.0.3
	bzNGroups       = 6                           // most coding tables
	bzMaxAlpha      = 258                         // 256 symbols + RUNA/RUNB
	bzLesserCost    = 0                           // initial in-group cost
	bzGreaterCost   = 15                          // initial out-of-group cost
	bzStreamHeader  = 32                          // "BZh" + level
	bzBlockHeader   = 48 + 32 + 1 + 24            // magic, CRC, randomised, origPtr
	bzStreamTrailer = 48 + 32                     // magic, combined CRC
	bzRunA, bzRunB  = 0, 1                        // zero-run symbols
	bzSelectorBits  = 3 + 15                      // nGroups, nSelectors
	bzMappingBits   = 16                          // the 16 range flags
	bzMaxSelectors  = 2 + (900000 / bzGroupSize)  // bound from libbzip2
	bzMaxBlockBytes = bzBlockMax + 4              // a run may overshoot by 4
)

// bzip2Sizer computes compressed lengths; it keeps its buffers between calls.
type bzip2Sizer struct {
	block  []byte
	ptr    []int32
	last   []byte // the Burrows–Wheeler last column
	mtfv   []uint16
	sorter rotationSorter
	inUse  [256]bool
	sel    []uint8
	freq   [bzMaxAlpha]int32
	length [bzNGroups][bzMaxAlpha]uint8
	rfreq  [bzNGroups][bzMaxAlpha]int32
	pack   [bzMaxAlpha][2]uint64
	bits   uint64
}

// size returns the number of bytes of the bzip2 stream for src, as
// BZ2_bzBuffToBuffCompress(dest, &len, src, n, 5, 0, 0) reports it.
func (z *bzip2Sizer) size(src []byte) int {
	if cap(z.block) < bzMaxBlockBytes {
		z.block = make([]byte, 0, bzMaxBlockBytes)
		z.ptr = make([]int32, bzMaxBlockBytes)
		z.last = make([]byte, bzMaxBlockBytes)
		z.mtfv = make([]uint16, bzMaxBlockBytes+1)
		z.sel = make([]uint8, 0, bzMaxSelectors)
	}
	z.bits = bzStreamHeader
	z.block = z.block[:0]
	clear(z.inUse[:])

	// Run-length stage 1 (libbzip2 ADD_CHAR_TO_BLOCK): runs of 4 to 255
	// equal bytes become four bytes and a count byte. A block is cut when it
	// holds at least bzBlockMax bytes before the next input byte; the pending
	// run carries over to the next block.
	runCh, runLen := -1, 0
	for _, c := range src {
		if len(z.block) >= bzBlockMax {
			z.compressBlock()
		}
		switch {
		case int(c) != runCh || runLen == 255:
			if runCh >= 0 {
				z.addRun(byte(runCh), runLen)
			}
			runCh, runLen = int(c), 1
		default:
			runLen++
		}
	}
	if runCh >= 0 {
		z.addRun(byte(runCh), runLen)
	}
	if len(z.block) > 0 {
		z.compressBlock()
	}
	z.bits += bzStreamTrailer
	return int((z.bits + 7) / 8)
}

func (z *bzip2Sizer) addRun(c byte, n int) {
	z.inUse[c] = true
	if n < 4 {
		for range n {
			z.block = append(z.block, c)
		}
		return
	}
	z.inUse[n-4] = true
	z.block = append(z.block, c, c, c, c, byte(n-4))
}

// compressBlock adds the bits of one block and starts the next.
func (z *bzip2Sizer) compressBlock() {
	n := len(z.block)
	ptr := z.ptr[:n]
	z.sorter.sort(z.block, ptr)
	z.bits += bzBlockHeader

	// Move-to-front and zero-run coding (libbzip2 generateMTFValues).
	var unseqToSeq [256]uint8
	var order [256]uint8
	nInUse := 0
	for c, u := range z.inUse {
		if u {
			unseqToSeq[c] = uint8(nInUse)
			order[nInUse] = uint8(nInUse)
			nInUse++
		}
	}
	eob := nInUse + 1
	alpha := nInUse + 2
	clear(z.freq[:])
	mtfv := z.mtfv[:0]
	zPend := 0
	flushRun := func() {
		zPend--
		for {
			sym := uint16(bzRunA)
			if zPend&1 == 1 {
				sym = bzRunB
			}
			mtfv = append(mtfv, sym)
			z.freq[sym]++
			if zPend < 2 {
				break
			}
			zPend = (zPend - 2) / 2
		}
		zPend = 0
	}
	// The last column first, apart: its reads at random places in the
	// block are then independent of each other and overlap.
	last := z.last[:n]
	for i, p := range ptr {
		j := int(p) - 1
		if j < 0 {
			j += n
		}
		last[i] = z.block[j]
	}
	for _, b := range last {
		c := unseqToSeq[b]
		if order[0] == c {
			zPend++
			continue
		}
		if zPend > 0 {
			flushRun()
		}
		i := 1
		prev := order[0]
		for order[i] != c {
			order[i], prev = prev, order[i]
			i++
		}
		order[i] = prev
		order[0] = c
		mtfv = append(mtfv, uint16(i+1))
		z.freq[i+1]++
	}
	if zPend > 0 {
		flushRun()
	}
	mtfv = append(mtfv, uint16(eob))
	z.freq[eob]++

	z.sendMTF(mtfv, alpha)

	// Mapping table: 16 range flags, then 16 flags per range in use.
	z.bits += bzMappingBits
	for i := range 16 {
		for j := range 16 {
			if z.inUse[i*16+j] {
				z.bits += 16
				break
			}
		}
	}
	z.block = z.block[:0]
	clear(z.inUse[:])
}

// sendMTF adds the bits of the selectors, the code-length tables and the
// Huffman-coded symbols (libbzip2 sendMTFValues).
func (z *bzip2Sizer) sendMTF(mtfv []uint16, alpha int) {
	nMTF := len(mtfv)
	for t := range bzNGroups {
		for v := range alpha {
			z.length[t][v] = bzGreaterCost
		}
	}
	var nGroups int
	switch {
	case nMTF < 200:
		nGroups = 2
	case nMTF < 600:
		nGroups = 3
	case nMTF < 1200:
		nGroups = 4
	case nMTF < 2400:
		nGroups = 5
	default:
		nGroups = 6
	}

	// Initial tables: split the symbol range into nGroups parts of about
	// equal frequency.
	remF, gs := nMTF, 0
	for nPart := nGroups; nPart > 0; nPart-- {
		tFreq := remF / nPart
		ge, aFreq := gs-1, 0
		for aFreq < tFreq && ge < alpha-1 {
			ge++
			aFreq += int(z.freq[ge])
		}
		if ge > gs && nPart != nGroups && nPart != 1 && (nGroups-nPart)%2 == 1 {
			aFreq -= int(z.freq[ge])
			ge--
		}
		for v := range alpha {
			if v >= gs && v <= ge {
				z.length[nPart-1][v] = bzLesserCost
			} else {
				z.length[nPart-1][v] = bzGreaterCost
			}
		}
		gs = ge + 1
		remF -= aFreq
	}

	// Refinement: give each group of 50 symbols to its cheapest table,
	// rebuild the tables from what they were given.
	for range bzIters {
		for t := range nGroups {
			clear(z.rfreq[t][:alpha])
		}
		// The cost of a group under every table, four 16-bit lanes to a
		// word (a group costs at most 50·17 < 2^16).
		for v := range alpha {
			var p [2]uint64
			for t := range nGroups {
				p[t/4] |= uint64(z.length[t][v]) << (16 * (t % 4))
			}
			z.pack[v] = p
		}
		z.sel = z.sel[:0]
		for gs := 0; gs < nMTF; gs += bzGroupSize {
			ge := min(gs+bzGroupSize, nMTF)
			var c0, c1 uint64
			for _, v := range mtfv[gs:ge] {
				c0 += z.pack[v][0]
				c1 += z.pack[v][1]
			}
			bt, bc := 0, uint16(c0)
			for t := 1; t < nGroups; t++ {
				c := uint16(c0 >> (16 * t))
				if t >= 4 {
					c = uint16(c1 >> (16 * (t - 4)))
				}
				if c < bc {
					bt, bc = t, c
				}
			}
			z.sel = append(z.sel, uint8(bt))
			f := &z.rfreq[bt]
			for _, v := range mtfv[gs:ge] {
				f[v]++
			}
		}
		for t := range nGroups {
			huffmanLengths(z.length[t][:alpha], z.rfreq[t][:alpha], bzMaxCodeLen)
		}
	}

	// Selectors, move-to-front coded in unary.
	z.bits += bzSelectorBits
	var pos [bzNGroups]uint8
	for i := range pos {
		pos[i] = uint8(i)
	}
	for _, s := range z.sel {
		j := 0
		for pos[j] != s {
			j++
		}
		copy(pos[1:j+1], pos[:j])
		pos[0] = s
		z.bits += uint64(j + 1)
	}

	// Code-length tables, delta coded.
	for t := range nGroups {
		curr := int(z.length[t][0])
		z.bits += 5
		for v := range alpha {
			l := int(z.length[t][v])
			d := l - curr
			if d < 0 {
				d = -d
			}
			z.bits += uint64(2*d + 1)
			curr = l
		}
	}

	// The symbols.
	for g, gs := 0, 0; gs < nMTF; g, gs = g+1, gs+bzGroupSize {
		ge := min(gs+bzGroupSize, nMTF)
		l := &z.length[z.sel[g]]
		for _, v := range mtfv[gs:ge] {
			z.bits += uint64(l[v])
		}
	}
}

// huffmanLengths sets length[i] to the code length of symbol i, built from
// freq as libbzip2's BZ2_hbMakeCodeLengths builds it: zero frequencies count
// as one, ties between equal weights go to the shallower subtree, and when a
// code is longer than maxLen every weight is halved and the tree rebuilt.
func huffmanLengths(length []uint8, freq []int32, maxLen int) {
	n := len(freq)
	var (
		heap   [bzMaxAlpha + 2]int32
		weight [bzMaxAlpha * 2]int32
		parent [bzMaxAlpha * 2]int32
	)
	for i, f := range freq {
		weight[i+1] = max(f, 1) << 8
	}
	for {
		nNodes, nHeap := n, 0
		heap[0], weight[0], parent[0] = 0, 0, -2
		up := func(z int) {
			tmp := heap[z]
			for weight[tmp] < weight[heap[z>>1]] {
				heap[z] = heap[z>>1]
				z >>= 1
			}
			heap[z] = tmp
		}
		down := func(z int) {
			tmp := heap[z]
			for {
				y := z << 1
				if y > nHeap {
					break
				}
				if y < nHeap && weight[heap[y+1]] < weight[heap[y]] {
					y++
				}
				if weight[tmp] < weight[heap[y]] {
					break
				}
				heap[z] = heap[y]
				z = y
			}
			heap[z] = tmp
		}
		for i := 1; i <= n; i++ {
			parent[i] = -1
			nHeap++
			heap[nHeap] = int32(i)
			up(nHeap)
		}
		for nHeap > 1 {
			n1 := heap[1]
			heap[1] = heap[nHeap]
			nHeap--
			down(1)
			n2 := heap[1]
			heap[1] = heap[nHeap]
			nHeap--
			down(1)
			nNodes++
			parent[n1], parent[n2] = int32(nNodes), int32(nNodes)
			w1, w2 := weight[n1], weight[n2]
			weight[nNodes] = (w1&^0xff + w2&^0xff) | (1 + max(w1&0xff, w2&0xff))
			parent[nNodes] = -1
			nHeap++
			heap[nHeap] = int32(nNodes)
			up(nHeap)
		}
		tooLong := false
		for i := 1; i <= n; i++ {
			j := 0
			for k := i; parent[k] >= 0; k = int(parent[k]) {
				j++
			}
			length[i-1] = uint8(j)
			tooLong = tooLong || j > maxLen
		}
		if !tooLong {
			return
		}
		for i := 1; i <= n; i++ {
			j := weight[i] >> 8
			weight[i] = (1 + j/2) << 8
		}
	}
}
