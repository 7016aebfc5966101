package assess

import "math"

// The chi-square p-values are the regularized upper incomplete gamma
// function Q(a, x) = Γ(a, x)/Γ(a), computed as NIST's tool computes it (the
// Cephes igam/igamc pair: a power series below max(1, a), a continued
// fraction above), so that p-values agree with the tool's.

const (
	gammaEpsilon = 0x1p-53                  // Cephes MACHEP
	gammaMaxLog  = 7.09782712893383996732e2 // log of the largest float64
	gammaBig     = 0x1p52                   // continued-fraction rescale bound
)

// gammaQ returns Q(a, x), the regularized upper incomplete gamma function.
func gammaQ(a, x float64) float64 {
	if x <= 0 || a <= 0 {
		return 1
	}
	if x < 1 || x < a {
		return 1 - gammaP(a, x)
	}
	ax := gammaPrefactor(a, x)
	if ax == 0 {
		return 0
	}
	// Continued fraction.
	y := 1 - a
	z := x + y + 1
	c := 0.0
	pkm2, qkm2 := 1.0, x
	pkm1, qkm1 := x+1, z*x
	ans := pkm1 / qkm1
	for {
		c++
		y++
		z += 2
		yc := y * c
		pk := pkm1*z - pkm2*yc
		qk := qkm1*z - qkm2*yc
		t := 1.0
		if qk != 0 {
			r := pk / qk
			t = math.Abs((ans - r) / r)
			ans = r
		}
		pkm2, pkm1 = pkm1, pk
		qkm2, qkm1 = qkm1, qk
		if math.Abs(pk) > gammaBig {
			pkm2 /= gammaBig
			pkm1 /= gammaBig
			qkm2 /= gammaBig
			qkm1 /= gammaBig
		}
		if !(t > gammaEpsilon) { // as Cephes: a NaN ends the loop too
			return ans * ax
		}
	}
}

// gammaP returns P(a, x) = 1 - Q(a, x), the regularized lower incomplete
// gamma function.
func gammaP(a, x float64) float64 {
	if x <= 0 || a <= 0 {
		return 0
	}
	if x > 1 && x > a {
		return 1 - gammaQ(a, x)
	}
	ax := gammaPrefactor(a, x)
	if ax == 0 {
		return 0
	}
	// Power series.
	r, c, ans := a, 1.0, 1.0
	for {
		r++
		c *= x / r
		ans += c
		if !(c/ans > gammaEpsilon) {
			return ans * ax / a
		}
	}
}

// gammaPrefactor returns x^a·e^-x/Γ(a), or 0 when it underflows.
func gammaPrefactor(a, x float64) float64 {
	lg, _ := math.Lgamma(a)
	ax := a*math.Log(x) - x - lg
	if ax < -gammaMaxLog {
		return 0
	}
	return math.Exp(ax)
}
