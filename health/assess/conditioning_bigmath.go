package assess

import "math/big"

// The few functions of arbitrary precision that the conditioning formulas
// need and math/big lacks: ln 2, 2^x and log2 x. Each works at the
// precision of its result (prec bits) plus guardBits, so that the value
// returned is correct to about prec bits.

// guardBits is the extra precision carried inside the series.
const guardBits = 64

func newFloat(prec uint) *big.Float { return new(big.Float).SetPrec(prec) }

// ln2 returns ln 2 = 2·atanh(1/3) = 2·Σ_{k≥0} 1/((2k+1)·3^(2k+1)).
func ln2(prec uint) *big.Float {
	return atanhSeries(newFloat(prec+guardBits).Quo(big.NewFloat(1), big.NewFloat(3)), prec).SetPrec(prec)
}

// atanhSeries returns 2·atanh(z) = 2·Σ z^(2k+1)/(2k+1) for |z| ≤ 1/3, at
// prec+guardBits bits.
func atanhSeries(z *big.Float, prec uint) *big.Float {
	p := prec + guardBits
	z2 := newFloat(p).Mul(z, z)
	power := newFloat(p).Set(z) // z^(2k+1)
	sum := newFloat(p).Set(z)
	term := newFloat(p)
	for k := int64(1); ; k++ {
		power.Mul(power, z2)
		term.Quo(power, newFloat(p).SetInt64(2*k+1))
		if term.Sign() == 0 || term.MantExp(nil)-sum.MantExp(nil) < -int(p) {
			break
		}
		sum.Add(sum, term)
	}
	return sum.Mul(sum, big.NewFloat(2))
}

// exp2 returns 2^x: 2^floor(x) exactly times exp(f·ln 2) for the fraction
// f in [0, 1), whose Taylor series converges quickly for |f·ln 2| < 0.7.
func exp2(x *big.Float, prec uint) *big.Float {
	p := prec + guardBits
	whole, _ := newFloat(p).Set(x).Int(nil) // truncated toward zero
	f := newFloat(p).Sub(x, newFloat(p).SetInt(whole))
	if f.Sign() < 0 { // make the fraction non-negative: floor, not truncation
		f.Add(f, big.NewFloat(1))
		whole.Sub(whole, big.NewInt(1))
	}
	y := newFloat(p).Mul(f, ln2(p))
	sum := newFloat(p).SetInt64(1)
	term := newFloat(p).SetInt64(1)
	for k := int64(1); ; k++ {
		term.Mul(term, y)
		term.Quo(term, newFloat(p).SetInt64(k))
		if term.Sign() == 0 || term.MantExp(nil) < -int(p) {
			break
		}
		sum.Add(sum, term)
	}
	return newFloat(prec).SetMantExp(sum, int(whole.Int64()))
}

// log2 returns log2 x for x > 0: with x = m·2^e, m in [1/2, 1), or in
// [1/√2, √2) after moving a factor of 2, log2 x = e + ln(m)/ln 2 and
// ln m = 2·atanh((m-1)/(m+1)), |(m-1)/(m+1)| < 0.18.
func log2(x *big.Float, prec uint) *big.Float {
	p := prec + guardBits
	m := newFloat(p)
	e := x.MantExp(m)
	if m.Cmp(big.NewFloat(0.7071067811865476)) < 0 {
		m.SetMantExp(m, 1)
		e--
	}
	num := newFloat(p).Sub(m, big.NewFloat(1))
	den := newFloat(p).Add(m, big.NewFloat(1))
	lnm := atanhSeries(num.Quo(num, den), prec)
	out := newFloat(p).Quo(lnm, ln2(p))
	return out.Add(out, newFloat(p).SetInt64(int64(e))).SetPrec(prec)
}
