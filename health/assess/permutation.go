package assess

import (
	"math"
	"strconv"
)

// The permutation tests of SP 800-90B Section 5.1 compute 19 statistics on
// the samples, then on shuffled copies of them; this file computes the
// statistics, as NIST's tool does (run_tests in permutation_tests.h):
//
//   - excursion (5.1.1) on the raw samples and their mean;
//   - directional runs and increases/decreases (5.1.2-5.1.4) on the symbols,
//     or for binary data on Conversion I of them (the number of ones in
//     each 8-bit block);
//   - runs based on the median (5.1.5, 5.1.6) on the symbols against the
//     median of the symbols (0.5 for binary data);
//   - average and maximum collision (5.1.7, 5.1.8) on the symbols, or for
//     binary data on Conversion II (each 8-bit block as a byte);
//   - periodicity (5.1.9) on the symbols, or Conversion I for binary data;
//   - covariance (5.1.10) on the raw samples, or Conversion I for binary data;
//   - compression (5.1.11): the length of the bzip2 compression (level 5)
//     of the raw samples written in decimal, separated by spaces.
//
// "Binary" means two distinct values (the tool's alph_size == 2), whatever
// the bits per sample.

// permStats is the number of permutation-test statistics.
const permStats = 19

// permLags are the lags p of the periodicity and covariance statistics.
var permLags = [...]int{1, 2, 8, 16, 32}

// Indices of the statistics, in the tool's order.
const (
	statExcursion = iota
	statNumDirectionalRuns
	statLenDirectionalRuns
	statNumIncreasesDecreases
	statNumRunsMedian
	statLenRunsMedian
	statAvgCollision
	statMaxCollision
	statPeriodicity  // + index of the lag in permLags
	statCovariance   = statPeriodicity + len(permLags)
	statCompression  = statCovariance + len(permLags)
	conversionBlock  = 8 // bits per block of Conversions I and II
	collisionSymbols = 1 << conversionBlock
)

// permStatName returns the name of statistic i as the tool's JSON spells it
// ("periodicity8"); permStatLabel as its verbose output does ("periodicity(8)").
func permStatName(i int) string {
	switch {
	case i >= statPeriodicity && i < statCovariance:
		return "periodicity" + strconv.Itoa(permLags[i-statPeriodicity])
	case i >= statCovariance && i < statCompression:
		return "covariance" + strconv.Itoa(permLags[i-statCovariance])
	case i == statCompression:
		return "compression"
	}
	return [...]string{
		"excursion", "numDirectionalRuns", "lenDirectionalRuns", "numIncreasesDecreases",
		"numRunsMedian", "lenRunsMedian", "avgCollision", "maxCollision",
	}[i]
}

func permStatLabel(i int) string {
	switch {
	case i >= statPeriodicity && i < statCovariance:
		return "periodicity(" + strconv.Itoa(permLags[i-statPeriodicity]) + ")"
	case i >= statCovariance && i < statCompression:
		return "covariance(" + strconv.Itoa(permLags[i-statCovariance]) + ")"
	case i == statCompression:
		return "compression"
	}
	return permStatName(i)
}

// permSource is what every statistic pass shares: the sequence's constants.
type permSource struct {
	symbols []byte // the unshuffled symbols, 0..k-1
	k       int
	binary  bool
	mean    float64     // mean of the raw samples
	median  float64     // median of the symbols (0.5 for binary data)
	raw     [256]byte   // raw sample value of each symbol
	below   [256]uint8  // 1 when a symbol is below the median
	decimal [256][]byte // each raw value in decimal, with a space
	textLen int         // length of the text to compress
	// rawIsSymbol is true when every symbol is its raw value.
	rawIsSymbol bool
}

func newPermSource(d *Data, mean, median float64) *permSource {
	src := &permSource{symbols: d.Symbols, k: d.K, binary: d.K == 2, mean: mean, median: median}
	for i, s := range d.Symbols {
		src.raw[s] = d.Raw[i]
	}
	var count [256]int
	for _, s := range d.Symbols {
		count[s]++
	}
	for s := range d.K {
		if float64(s) < median {
			src.below[s] = 1
		}
		src.decimal[s] = strconv.AppendUint(nil, uint64(src.raw[s]), 10)
		src.decimal[s] = append(src.decimal[s], ' ')
		src.textLen += count[s] * len(src.decimal[s])
	}
	src.rawIsSymbol = true
	for s := range d.K {
		src.rawIsSymbol = src.rawIsSymbol && src.raw[s] == byte(s)
	}
	return src
}

// permScratch holds one worker's buffers, so that a statistics pass does not
// allocate.
type permScratch struct {
	cs1, cs2 []byte   // Conversions I and II
	raw      []byte   // raw samples of a permutation, when not the symbols
	stamp    []uint32 // collision search: when each symbol was last seen
	epoch    uint32
	text     []byte
	bz       bzip2Sizer
}

// statistics computes into t the statistics that want selects, on the
// symbols s (a permutation of src.symbols).
func (src *permSource) statistics(s []byte, want *[permStats]bool, t *[permStats]float64, w *permScratch) {
	q := permSeqs{sym: s, dir: s, col: s, colK: src.k}
	if src.binary {
		w.convert(s)
		q.dir, q.col, q.colK = w.cs1, w.cs2, collisionSymbols
	}
	src.compute(&q, want, t, w)
}

// permSeqs are the sequences the statistics are computed on: the symbols,
// the sequence of the directional runs, periodicity and (for binary data)
// covariance statistics, and that of the collision statistics, over colK
// values.
type permSeqs struct {
	sym, dir, col []byte
	colK          int
}

// compute computes into t the statistics that want selects on q. q.sym may
// be nil when want selects none of the statistics computed on it: the
// excursion, the runs based on the median, the compression and, for
// non-binary data, the periodicity and covariance statistics.
func (src *permSource) compute(q *permSeqs, want *[permStats]bool, t *[permStats]float64, w *permScratch) {
	if want[statExcursion] {
		t[statExcursion] = src.excursion(q.sym)
	}
	if want[statNumDirectionalRuns] || want[statLenDirectionalRuns] || want[statNumIncreasesDecreases] {
		t[statNumDirectionalRuns], t[statLenDirectionalRuns], t[statNumIncreasesDecreases] = directionalRuns(q.dir)
	}
	if want[statNumRunsMedian] || want[statLenRunsMedian] {
		t[statNumRunsMedian], t[statLenRunsMedian] = src.medianRuns(q.sym)
	}
	if want[statAvgCollision] || want[statMaxCollision] {
		t[statAvgCollision], t[statMaxCollision] = w.collisions(q.col, q.colK)
	}
	if anyOf(want[statPeriodicity:statCompression]) {
		if src.binary {
			lagged(q.dir, q.dir, t)
		} else {
			src.laggedRaw(q.sym, t, w)
		}
	}
	if want[statCompression] {
		t[statCompression] = float64(src.compression(q.sym, w))
	}
}

func anyOf(b []bool) bool {
	for _, x := range b {
		if x {
			return true
		}
	}
	return false
}

// excursion is the excursion test statistic, per SP 800-90B Section 5.1.1:
// max over i of |S_i - i·mean|, S_i the sum of the first i raw samples.
// The tool's build contracts S_i - i·mean to a fused multiply-add, and its
// published values are reproduced exactly only with one, so math.FMA it is.
func (src *permSource) excursion(s []byte) float64 {
	// The running sum is kept as an integer (exact, as the tool's double
	// is below 2^53) so that no floating-point addition chains the loop.
	sum, best := 0, 0.0
	for i, x := range s {
		sum += int(src.raw[x])
		d := math.Abs(math.FMA(-float64(i+1), src.mean, float64(sum)))
		if d > best {
			best = d
		}
	}
	return best
}

// directionalRuns returns the number of directional runs, the length of the
// longest one, and the number of increases or decreases, whichever is
// larger, per SP 800-90B Sections 5.1.2 to 5.1.4. A step from s[i] to s[i+1]
// is "+1" when s[i] <= s[i+1], "-1" otherwise.
func directionalRuns(s []byte) (runs, longest, incDec float64) {
	m := len(s) - 1
	if m <= 0 {
		return 0, 1, 0
	}
	up := 0
	nRuns, run, maxRun := 1, 1, 1
	prev := b2i(s[0] <= s[1])
	up += prev
	for i := 1; i < m; i++ {
		cur := b2i(s[i] <= s[i+1])
		up += cur
		same := b2i(cur == prev)
		nRuns += 1 - same
		run = run*same + 1
		maxRun = max(maxRun, run)
		prev = cur
	}
	return float64(nRuns), float64(maxRun), float64(max(up, m-up))
}

// medianRuns returns the number of runs of samples at or above, and below,
// the median, and the length of the longest, per SP 800-90B Sections 5.1.5
// and 5.1.6.
func (src *permSource) medianRuns(s []byte) (runs, longest float64) {
	if len(s) == 0 {
		return 0, 1
	}
	prev := src.below[s[0]]
	nRuns, run, maxRun := 1, 1, 1
	for _, x := range s[1:] {
		cur := src.below[x]
		same := b2i(cur == prev)
		nRuns += 1 - same
		run = run*same + 1
		maxRun = max(maxRun, run)
		prev = cur
	}
	return float64(nRuns), float64(maxRun)
}

// collisions returns the average and the largest number of samples read
// until a value repeats, per SP 800-90B Sections 5.1.7 and 5.1.8: from the
// start, read until the sample just read equals one before it in the
// window, record the window's length, start a new window after it. An
// unfinished last window is not counted.
func (w *permScratch) collisions(s []byte, k int) (avg, longest float64) {
	if len(w.stamp) < k {
		w.stamp = make([]uint32, collisionSymbols)
	}
	w.epoch++
	if w.epoch == 0 { // wrapped: forget every stamp
		clear(w.stamp)
		w.epoch = 1
	}
	sum, count, maxLen := 0, 0, 0
	start := 0
	for i, x := range s {
		if w.stamp[x] == w.epoch {
			l := i - start + 1
			sum += l
			count++
			maxLen = max(maxLen, l)
			start = i + 1
			w.epoch++
			if w.epoch == 0 {
				clear(w.stamp)
				w.epoch = 1
			}
			continue
		}
		w.stamp[x] = w.epoch
	}
	if count == 0 {
		return math.NaN(), 0
	}
	return float64(sum) / float64(count), float64(maxLen)
}

// lagged computes the periodicity (equal pairs, Section 5.1.9) and
// covariance (sum of products, Section 5.1.10) statistics at every lag of
// permLags, periodicity on p and covariance on c (the same length).
func lagged(p, c []byte, t *[permStats]float64) {
	n := len(p)
	const maxLag = 32
	var eq [len(permLags)]int
	var prod [len(permLags)]uint64
	i := 0
	if n > maxLag {
		p, c := p[:n], c[:n]
		for ; i < n-maxLag; i++ {
			x, y := p[i], uint64(c[i])
			eq[0] += b2i(x == p[i+1])
			eq[1] += b2i(x == p[i+2])
			eq[2] += b2i(x == p[i+8])
			eq[3] += b2i(x == p[i+16])
			eq[4] += b2i(x == p[i+32])
			prod[0] += y * uint64(c[i+1])
			prod[1] += y * uint64(c[i+2])
			prod[2] += y * uint64(c[i+8])
			prod[3] += y * uint64(c[i+16])
			prod[4] += y * uint64(c[i+32])
		}
	}
	for ; i < n; i++ {
		for j, lag := range permLags {
			if i+lag < n {
				eq[j] += b2i(p[i] == p[i+lag])
				prod[j] += uint64(c[i]) * uint64(c[i+lag])
			}
		}
	}
	for j := range permLags {
		t[statPeriodicity+j] = float64(eq[j])
		t[statCovariance+j] = float64(prod[j])
	}
}

// laggedRaw is lagged for non-binary data: periodicity on the symbols,
// covariance on the raw samples (looked up when they differ).
func (src *permSource) laggedRaw(s []byte, t *[permStats]float64, w *permScratch) {
	if src.rawIsSymbol {
		lagged(s, s, t)
		return
	}
	if cap(w.raw) < len(s) {
		w.raw = make([]byte, len(s))
	}
	w.raw = w.raw[:len(s)]
	for i, x := range s {
		w.raw[i] = src.raw[x]
	}
	lagged(s, w.raw, t)
}

// compression returns the compression statistic, per SP 800-90B Section
// 5.1.11: the length of the bzip2 compression of the raw samples written
// in decimal and separated by single spaces.
func (src *permSource) compression(s []byte, w *permScratch) int {
	if cap(w.text) < src.textLen {
		w.text = make([]byte, 0, src.textLen)
	}
	text := w.text[:0]
	for _, x := range s {
		text = append(text, src.decimal[x]...)
	}
	w.text = text
	if len(text) == 0 {
		return w.bz.size(nil)
	}
	return w.bz.size(text[:len(text)-1])
}

// convert fills w.cs1 with Conversion I (the number of ones in each 8-bit
// block) and w.cs2 with Conversion II (each 8-bit block as a byte, most
// significant bit first) of the binary sequence s, per SP 800-90B Section
// 5.1; a short last block counts as one padded with zeros.
func (w *permScratch) convert(s []byte) {
	m := (len(s) + conversionBlock - 1) / conversionBlock
	if cap(w.cs1) < m {
		w.cs1 = make([]byte, m)
		w.cs2 = make([]byte, m)
	}
	w.cs1, w.cs2 = w.cs1[:m], w.cs2[:m]
	full := len(s) / conversionBlock
	for j := range full {
		b := s[j*conversionBlock : (j+1)*conversionBlock : (j+1)*conversionBlock]
		w.cs1[j] = b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + b[7]
		w.cs2[j] = b[0]<<7 | b[1]<<6 | b[2]<<5 | b[3]<<4 | b[4]<<3 | b[5]<<2 | b[6]<<1 | b[7]
	}
	if full < m {
		var ones, packed byte
		for i, x := range s[full*conversionBlock:] {
			ones += x
			packed |= x << (conversionBlock - 1 - i)
		}
		w.cs1[full], w.cs2[full] = ones, packed
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
