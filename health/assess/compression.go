package assess

import "math"

// CompressionResult is the Compression estimate with its intermediate values.
type CompressionResult struct {
	Estimate
	// XBar is the mean of log2 of the distances to each block's previous
	// occurrence, SigmaHat its standard deviation (times 0.5907).
	XBar, SigmaHat float64
	// XBarPrime is the 99% lower bound on XBar.
	XBarPrime float64
	// Found reports whether p was solved for; when false, p = 2^-b and the
	// estimate is 1 bit.
	Found bool
}

const (
	compressionName    = "Compression Test (for bit strings only)"
	compressionSection = "6.3.4"
	// compB is b, the block size in bits, and compD is d, the number of
	// blocks that initialise the dictionary, per Section 6.3.4 Steps 1-2.
	compB = 6
	compD = 1000
	// compSymbols is the number of b-bit blocks.
	compSymbols = 1 << compB
	// compSigmaFactor is the c of Step 5 that corrects the standard
	// deviation of Maurer's universal statistic for b = 6, as the standard
	// gives it.
	compSigmaFactor = 0.5907
)

// Compression computes the Compression estimate, per SP 800-90B Section
// 6.3.4, of the binary sequence s (symbols 0 and 1). It is skipped (see
// [Estimate.Skipped]) when s holds no more than compB·compD bits.
func Compression(s []byte) CompressionResult {
	r := CompressionResult{Estimate: Estimate{Name: compressionName, Section: compressionSection}}

	// Step 1. Split s into b-bit blocks.
	numBlocks := len(s) / compB
	if numBlocks <= compD {
		r.Skipped = "not enough samples to run the compression test (need more than 1000 blocks)"
		r.MinEntropy = -1
		return r
	}

	// Steps 2-4. Initialise the dictionary with the first d blocks, then
	// sum log2 of the distance from each of the v later blocks to its
	// previous occurrence (Kahan sums, as the tool).
	var dict [compSymbols]int
	for i := range compD {
		dict[block6(s[i*compB:])] = i + 1
	}
	logs := newCompLog2Table(1 << 12)
	var x, xc, sig, sigc float64
	for i := compD; i < numBlocks; i++ {
		b := block6(s[i*compB:])
		l := logs.at(i + 1 - dict[b])
		x, xc = compKahanAdd(x, xc, l)
		sig, sigc = compKahanAdd(sig, sigc, l*l)
		dict[b] = i + 1
	}

	// Step 5. Mean and scaled standard deviation.
	v := numBlocks - compD
	x /= float64(v)
	sigma := compSigmaFactor * math.Sqrt(sig/(float64(v)-1)-x*x)
	r.XBar, r.SigmaHat = x, sigma

	// Step 6. Lower bound on the mean.
	xp := x - zAlpha*sigma/math.Sqrt(float64(v))
	r.XBarPrime = xp

	// Step 7. Solve E(p) = X̄' for p in [2^-b, 1] by bisection.
	g := compExpect{d: compD, numBlocks: numBlocks, logs: newCompLog2Table(0)}
	pMin := 1.0 / compSymbols
	p := -1.0
	if g.at(pMin) > xp {
		p = bisect(g.at, xp, pMin, 1, pMin)
	}

	// Step 8. The estimate per bit, or 1 bit when p was not found.
	if p > pMin {
		r.P = p
		r.MinEntropy = -math.Log2(p) / compB
		r.Found = true
	} else {
		r.P = pMin
		r.MinEntropy = 1
	}
	return r
}

// block6 packs the first six bits of s, most significant first.
func block6(s []byte) int {
	_ = s[5]
	return int(s[0]&1)<<5 | int(s[1]&1)<<4 | int(s[2]&1)<<3 |
		int(s[3]&1)<<2 | int(s[4]&1)<<1 | int(s[5]&1)
}

// compKahanAdd adds in to the compensated sum (sum, comp), as the tool's
// kahan_add.
func compKahanAdd(sum, comp, in float64) (float64, float64) {
	y := in - comp
	t := sum + y
	return t, (t - sum) - y
}

// compLog2Table caches log2 of small positive integers.
type compLog2Table struct{ t []float64 }

func newCompLog2Table(n int) *compLog2Table {
	lt := &compLog2Table{}
	lt.grow(n)
	return lt
}

func (lt *compLog2Table) grow(n int) {
	for i := len(lt.t); i < n; i++ {
		lt.t = append(lt.t, math.Log2(float64(i)))
	}
}

// at returns log2(i) for i ≥ 1, from the table when it is there.
func (lt *compLog2Table) at(i int) float64 {
	if i < len(lt.t) {
		return lt.t[i]
	}
	return math.Log2(float64(i))
}

// compExpect evaluates E(p) of Section 6.3.4 Step 7, the expected value of
// the statistic for a distribution with one symbol of probability p and the
// other 2^b - 1 of probability q = (1-p)/(2^b - 1):
// E(p) = G(p) + (2^b - 1)·G(q).
type compExpect struct {
	d, numBlocks int
	logs         *compLog2Table
}

func (c compExpect) at(p float64) float64 {
	q := (1 - p) / (compSymbols - 1)
	return c.g(p) + (compSymbols-1)*c.g(q)
}

// g computes G(z) of Section 6.3.4 Step 7,
//
//	G(z) = 1/v · Σ_{t=d+1}^{L} Σ_{u=1}^{t} log2(u)·F(z, t, u),
//
// with F(z, t, u) = z²(1-z)^(u-1) for u < t and z(1-z)^(t-1) for u = t.
// With a_i = log2(i)·(1-z)^(i-1) and A_j = Σ_{i<j} a_i this is, as in the
// tool (after UL's implementation notes),
//
//	G(z) = z/v · (z·((L-d)·A_{d+1} + Σ_{i=d+1}^{L-1} (L-i)·a_i) + A_{L+1} - A_{d+1}).
//
// The tool keeps (1-z)^(i-1) in 80-bit long double and stops summing once a
// term underflows a double; here it is a double-double product, at least as
// accurate, the sums are Kahan sums in the tool's order, and the sums stop
// once every remaining term is below 2^-110 of the first one (a_2 = 1-z),
// so that together they are below 2^-80 of the sums: they cannot change a
// double. For small z that saves most of the tool's terms.
func (c compExpect) g(z float64) float64 {
	L := c.numBlocks
	v := float64(L - c.d)

	// B_i = (1-z)^(i-1) as a double-double (bh, bl); Bterm = 1 - z exactly.
	th, tl := compTwoSum(1, -z)
	bh, bl := th, tl
	// Below cut, B_i·L·log2(L) < 2^-110·a_2: the rest is negligible.
	cut := math.Ldexp(th, -compNegligibleBits) / (float64(L) * math.Log2(float64(L)))

	var ai, aic float64
	i := 2
	for ; i <= c.d && bh >= cut; i++ {
		ai, aic = compKahanAdd(ai, aic, c.log2(i)*(bh+bl))
		bh, bl = compDDMul(bh, bl, th, tl)
	}
	ad1 := ai

	var first, firstc float64
	stopped := bh < cut
	for i = c.d + 1; i <= L-1 && !stopped; i++ {
		a := c.log2(i) * (bh + bl)
		ai, aic = compKahanAdd(ai, aic, a)
		first, firstc = compKahanAdd(first, firstc, float64(L-i)*a)
		bh, bl = compDDMul(bh, bl, th, tl)
		stopped = bh < cut
	}
	first, _ = compKahanAdd(first, firstc, float64(L-c.d)*ad1)
	if !stopped {
		ai, _ = compKahanAdd(ai, aic, c.log2(L)*(bh+bl))
	}
	return 1 / v * z * (z*first + (ai - ad1))
}

// compNegligibleBits is where g stops summing: when every remaining term is
// below 2^-compNegligibleBits of the first, their total (at most L of them)
// is far below the last bit of the sums.
const compNegligibleBits = 110

// log2 returns log2(i), growing the cache as the sums reach further.
func (c compExpect) log2(i int) float64 {
	if i >= len(c.logs.t) {
		c.logs.grow(max(2*len(c.logs.t), i+1, 1024))
	}
	return c.logs.t[i]
}

// compTwoSum returns a+b as an unevaluated sum hi+lo, exactly.
func compTwoSum(a, b float64) (hi, lo float64) {
	hi = a + b
	bb := hi - a
	lo = (a - (hi - bb)) + (b - bb)
	return hi, lo
}

// compDDMul multiplies two double-double numbers.
func compDDMul(ah, al, bh, bl float64) (float64, float64) {
	p := ah * bh
	e := math.FMA(ah, bh, -p) + (ah*bl + al*bh)
	hi := p + e
	return hi, e - (hi - p)
}
