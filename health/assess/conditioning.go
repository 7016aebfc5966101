package assess

import (
	"errors"
	"fmt"
	"math"
	"math/big"
)

// ConditioningParams describes a conditioning component for [Conditioning],
// with the names of SP 800-90B Section 3.1.5 and of the tool's
// ea_conditioning arguments.
type ConditioningParams struct {
	// Vetted selects a vetted conditioning component (Section 3.1.5.1.1,
	// the tool's -v); otherwise it is non-vetted (3.1.5.2, -n).
	Vetted bool
	// NIn is the number of bits into the component, NOut the number out,
	// NW its narrowest internal width; each at least 1.
	NIn, NOut, NW int
	// HIn is the entropy of the NIn input bits, in (0, NIn].
	HIn float64
	// HPrime is h', the entropy per bit of the conditioned sequential
	// dataset (non-vetted only), in (0, 1]; [NonIID] with Conditioned
	// computes it, as the tool's ea_non_iid -c does.
	HPrime float64
}

// ConditioningResult is the entropy of a conditioning component's output.
type ConditioningResult struct {
	ConditioningParams
	// NW here is min(NW, NIn), per SP 800-90B Appendix E, as the tool
	// reports it.

	// OutputEntropy is Output_Entropy(NIn, NOut, NW, HIn) of Section
	// 3.1.5.1.2, and HOut the component's output entropy: OutputEntropy
	// when vetted, min(OutputEntropy, 0.999·NOut, HPrime·NOut) when not.
	OutputEntropy, HOut float64
	// Epsilon is -log2(1 - OutputEntropy/NOut): how close the output is to
	// full entropy (OutputEntropy = (1-ε)·NOut with ε = 2^-Epsilon).
	Epsilon float64
	// Precision is the number of bits of the arithmetic used.
	Precision uint
}

// FullEntropy reports whether a vetted component's output may be claimed
// to have full entropy: h_out > 0.999·n_out and ε ≤ 2^-64, the
// SP 800-90B (2012 draft) and SP 800-90C bound the tool names. A
// non-vetted component's output never has full entropy (Section 3.1.5.2).
func (r *ConditioningResult) FullEntropy() bool {
	return r.Vetted && r.HOut > 0.999*float64(r.NOut) && r.Epsilon >= 64
}

// Conditioning computes the output entropy of a conditioning component per
// SP 800-90B Section 3.1.5, as NIST's ea_conditioning does.
//
// Output_Entropy (Section 3.1.5.1.2), with n = min(n_out, nw):
//
//  1. P_high = 2^-h_in; P_low = (1 - P_high)/(2^n_in - 1).
//  2. (nw = min(nw, n_in), per Appendix E.)
//  3. ψ = 2^(n_in-n)·P_low + P_high.
//  4. U = 2^(n_in-n) + sqrt(2·n·2^(n_in-n)·ln 2).
//  5. ω = U·P_low.
//  6. Output_Entropy = -log2(max(ψ, ω)), ψ and ω each capped at 1.
//
// # Precision
//
// The quantities span 2^-n_in to 1, and the result can differ from n_out
// or h_in by less than 2^-n_in, so double precision is not enough (it
// underflows for n_in > 1074, and loses the result's distance to n_out).
// Conditioning computes with math/big.Float at the tool's precision,
// 2·max(53, n_in, n_out, nw) bits, plus 64 guard bits inside ln, exp and
// log (series in conditioning_bigmath.go), rounding to nearest; the tool
// uses MPFR at the same precision with directed rounding, which moves the
// result by far less than its conversion to double. The inputs are doubles
// (the tool reads 80-bit long doubles), which changes h_out by at most
// 1e-16 relative. On the reference table every h_out equals the tool's to
// 1e-15 relative or better.
func Conditioning(p ConditioningParams) (*ConditioningResult, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	r := &ConditioningResult{ConditioningParams: p}
	r.NW = min(p.NW, p.NIn)
	n := min(p.NOut, r.NW)
	r.Precision = 2 * uint(max(53, p.NIn, p.NOut, p.NW))
	prec := r.Precision
	f := func() *big.Float { return newFloat(prec) }
	one := f().SetInt64(1)

	// Step 1.
	hIn := f().SetFloat64(p.HIn)
	pHigh := exp2(f().Neg(hIn), prec)
	inputSpace := f().SetMantExp(one, p.NIn) // 2^n_in, exact
	pLow := f().Sub(one, pHigh)
	pLow.Quo(pLow, f().Sub(inputSpace, one))

	// Step 3.
	power := f().SetMantExp(one, p.NIn-n) // 2^(n_in-n), exact
	psi := f().Mul(power, pLow)
	psi.Add(psi, pHigh)
	if psi.Cmp(one) > 0 {
		psi.Set(one)
	}

	// Steps 4 and 5.
	u := f().Mul(ln2(prec), power)
	u.Mul(u, f().SetInt64(2*int64(n)))
	u.Sqrt(u)
	u.Add(u, power)
	omega := u.Mul(u, pLow)
	if omega.Cmp(one) > 0 {
		omega.Set(one)
	}

	// Step 6.
	worst := psi
	if omega.Cmp(psi) > 0 {
		worst = omega
	}
	out := log2(worst, prec)
	out.Neg(out)
	r.OutputEntropy, _ = out.Float64()

	// ε, from the full-precision value: 1 - out/n_out can be far below
	// double precision's reach.
	gap := f().Quo(out, f().SetInt64(int64(p.NOut)))
	gap.Sub(one, gap)
	if gap.Sign() > 0 {
		e := log2(gap, prec)
		r.Epsilon, _ = e.Neg(e).Float64()
	} else {
		r.Epsilon = math.Inf(1)
	}

	r.HOut = r.OutputEntropy
	if !p.Vetted {
		// Section 3.1.5.2: h_out = min(Output_Entropy, 0.999·n_out, h'·n_out).
		r.HOut = min(r.OutputEntropy, 0.999*float64(p.NOut), p.HPrime*float64(p.NOut))
	}
	return r, nil
}

// maxConditioningBits bounds n_in, n_out and nw: the tool takes any
// unsigned int, but the working precision grows with them and SP 800-90B's
// components (hashes, block ciphers, their HMACs and CMACs) are far
// narrower.
const maxConditioningBits = 1 << 16

var errConditioning = errors.New("assess: conditioning")

func (p ConditioningParams) check() error {
	for _, v := range []struct {
		name string
		n    int
	}{{"n_in", p.NIn}, {"n_out", p.NOut}, {"nw", p.NW}} {
		if v.n < 1 || v.n > maxConditioningBits {
			return fmt.Errorf("%w: %s %d not in 1..%d", errConditioning, v.name, v.n, maxConditioningBits)
		}
	}
	if !(p.HIn > 0 && p.HIn <= float64(p.NIn)) {
		return fmt.Errorf("%w: h_in %v not in (0, n_in = %d]", errConditioning, p.HIn, p.NIn)
	}
	if !p.Vetted && !(p.HPrime > 0 && p.HPrime <= 1) {
		return fmt.Errorf("%w: h' %v not in (0, 1]", errConditioning, p.HPrime)
	}
	return nil
}
