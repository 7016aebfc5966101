package health

import "math"

// maxCutoff bounds the cutoffs RCTCutoff returns, so that a vanishing
// min-entropy claim cannot overflow an int. A run that long never ends by
// chance: the test is then effectively off, which NewTester refuses.
const maxCutoff = math.MaxInt32

// RCTCutoff returns C = 1 + ceil(-log2(alpha)/h) (SP 800-90B §4.4.1).
//
// h is the claimed min-entropy per sample in bits and alpha the accepted
// probability of a false alarm per sample: a source with min-entropy h repeats
// a value C-1 more times in a row with probability at most 2^(-h(C-1)) ≤ alpha.
// At alpha = 2^-20, h = 0.5 gives 41 and h = 1 gives 21.
//
// A quotient within 1e-9 of an integer is taken as that integer, so that
// rounding in -log2(alpha)/h does not add one to an exact cutoff. Invalid
// arguments (h not positive, alpha outside (0, 1), NaN) give 0, a cutoff every
// sample fails; [NewTester] rejects them with an error instead.
func RCTCutoff(h, alpha float64) int {
	if !(h > 0) || !(alpha > 0 && alpha < 1) || math.IsInf(h, 0) {
		return 0
	}
	x := -math.Log2(alpha) / h
	if r := math.Round(x); math.Abs(x-r) <= 1e-9*math.Max(1, r) {
		x = r
	}
	c := 1 + math.Ceil(x)
	if c > maxCutoff {
		return maxCutoff
	}
	return int(c)
}

// APTCutoff returns 1 + CRITBINOM(window, 2^-h, 1-alpha) (SP 800-90B §4.4.2), computed
// exactly from the binomial distribution.
//
// CRITBINOM(W, p, 1-alpha) is the smallest k with P[X ≤ k] ≥ 1-alpha for
// X ~ Binomial(W, p), so the cutoff is the smallest c with P[X ≥ c] ≤ alpha:
// a source whose most likely value has probability p = 2^-h reaches c
// occurrences in a window with probability at most alpha. At alpha = 2^-20,
// h = 0.5 and W = 512 give 410; h = 1 gives 311 (W = 512) and 589 (W = 1024).
//
// The tail P[X ≥ c] is summed in log space from c = W down, each term
// log C(W,k) + k·log p + (W-k)·log(1-p), so no term underflows and no sum
// cancels; the tests compare the result with 256-bit big.Float sums. When even
// P[X = W] exceeds alpha the result is W+1, a count no window can reach.
// Invalid arguments (h not positive, alpha outside (0, 1), window < 1) give 0.
func APTCutoff(h, alpha float64, window int) int {
	if !(h > 0) || !(alpha > 0 && alpha < 1) || math.IsInf(h, 0) || window < 1 {
		return 0
	}
	// p = 2^-h, and 1-p computed without cancellation for small h.
	logP := -h * math.Ln2
	logQ := math.Log(-math.Expm1(logP))
	logAlpha := math.Log(alpha)
	lgW, _ := math.Lgamma(float64(window) + 1)

	tail := math.Inf(-1) // log P[X ≥ c], starting at c = W+1
	for c := window; c >= 0; c-- {
		tail = logAddExp(tail, logPMF(window, c, lgW, logP, logQ))
		if tail > logAlpha {
			// P[X ≥ c] > alpha, and P[X ≥ c+1] ≤ alpha.
			return c + 1
		}
	}
	// Unreachable for alpha < 1, as P[X ≥ 0] = 1.
	return 0
}

// logPMF returns log P[X = k] for X ~ Binomial(n, p), given log Γ(n+1),
// log p and log(1-p).
func logPMF(n, k int, lgN, logP, logQ float64) float64 {
	lgK, _ := math.Lgamma(float64(k) + 1)
	lgNK, _ := math.Lgamma(float64(n-k) + 1)
	return lgN - lgK - lgNK + float64(k)*logP + float64(n-k)*logQ
}

// logAddExp returns log(e^a + e^b).
func logAddExp(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	if math.IsInf(a, -1) {
		return a
	}
	return a + math.Log1p(math.Exp(b-a))
}
