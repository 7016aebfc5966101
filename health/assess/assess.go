// Package assess estimates the min-entropy of recorded noise-source samples
// per NIST SP 800-90B, Sections 5 (IID track) and 6.3 (non-IID track), and
// computes the same numbers as NIST's SP800-90B_EntropyAssessment tool
// (version 1.1.7), which is the reference its tests compare against.
//
// # Sections
//
//   - Section 6.3.1, Most Common Value: [MostCommonValue].
//   - Section 6.3.2, Collision (bit strings only): [Collision].
//   - Section 6.3.3, Markov (bit strings only): [Markov].
//   - Section 6.3.4, Compression (bit strings only): [Compression].
//   - Sections 6.3.5 and 6.3.6, t-Tuple and LRS: [TupleEstimates].
//   - Sections 6.3.7 to 6.3.10, the predictors: [MultiMCW], [Lag], [MultiMMC], [LZ78Y].
//   - Section 3.1.3, the initial entropy estimate min(H_original, n × H_bitstring),
//     and Section 3.1.5.2, h' for a conditioned sequential dataset: [NonIID],
//     with the tool's JSON report ([NonIIDResult.Report]), a table
//     ([NonIIDResult.WriteTable]) and its verbose text ([NonIIDResult.WriteVerbose]).
//   - Section 5, the IID track: [IID].
//   - Section 3.1.4, the restart tests (ea_restart): [Restart], with the
//     sanity check's bound computed exactly by [RestartCutoff] where the
//     tool simulates it.
//   - Section 3.1.5, the output entropy of a conditioning component
//     (ea_conditioning): [Conditioning], in math/big arithmetic.
//
// # Preparing the samples
//
// [Prepare] reads samples the way the tool does: one sample per byte, the
// least significant Bits bits; the width is inferred from the highest bit set
// when it is not given; the samples are renumbered to 0..K-1 and expanded to
// a bitstring, most significant bit first.
//
// # Precision
//
// The tool computes in double precision, with 80-bit long double in a few
// places (the compression test's G function, the predictors' local bound).
// Where the tool uses long double this package uses double-double arithmetic
// or compensated sums, so that every estimate agrees with the tool's to a
// relative 1e-9 or better (to about 1e-13 on NIST's sample files).
//
// # Not supported
//
// The tool's -l option (assess one block of a file) is left to the caller,
// who can slice the input before calling [Prepare].
package assess

// MinSamples is the number of samples SP 800-90B Section 3.1.1 asks for, the
// tool's MIN_SIZE: below it the tool warns, and its -t option truncates the
// bitstring to this many bits.
const MinSamples = 1_000_000

// zAlpha is the upper 0.995 quantile of the standard normal distribution, the
// Z_(1-0.005) the estimators of SP 800-90B Section 6.3 use for their 99%
// confidence bounds (the tool's ZALPHA).
const zAlpha = 2.5758293035489008

// Data is a sample sequence prepared the way SP800-90B_EntropyAssessment
// prepares it before any estimator runs.
type Data struct {
	// Raw holds the samples as read, masked to Bits bits.
	Raw []byte
	// Symbols holds the samples renumbered to 0..K-1 in increasing order of
	// the values seen, so that estimators can index tables of size K.
	Symbols []byte
	// K is the number of distinct values seen (the alphabet size).
	K int
	// Bits is the number of bits per sample, 1 to 8.
	Bits int
	// Bitstring holds the samples of Raw expanded to one bit per byte, most
	// significant bit first, Bits bits per sample.
	Bitstring []byte
	// Warnings lists conditions the tool reports without stopping, each
	// wrapping a sentinel such as [ErrFewSamples] (test with errors.Is).
	// (Added by the Prepare/non-IID owner.)
	Warnings []error
}

// Estimate is the result of one estimator on one sequence.
type Estimate struct {
	// Name is the estimator as the tool's JSON names it, for example
	// "Most Common Value".
	Name string
	// Section is the SP 800-90B section that defines it, for example "6.3.1".
	Section string
	// MinEntropy is the estimate in bits per sample of the sequence it ran on
	// (per bit, for a bitstring).
	MinEntropy float64
	// P is the probability the estimate was derived from (p_u, p-hat_max or
	// the largest of P_global' and P_local), -log2(P) = MinEntropy; for the
	// Markov estimate it is that of the likeliest 128-bit sequence and for
	// the Compression estimate that of a 6-bit block, so MinEntropy is
	// -log2(P)/128 and -log2(P)/6 (at most 1).
	P float64
	// Skipped is empty when the estimator ran; otherwise it says why it could
	// not (for example, too few samples for the compression test). A skipped
	// estimate takes no part in the minimum, as in the tool, where such an
	// estimator returns a negative value. (Added by the non-IID owner; an
	// estimator may also signal this with a negative MinEntropy.)
	Skipped string
}

// Ran reports whether the estimate counts toward the minimum: it was not
// skipped and its value is not negative (the tool's "not run" value).
func (e Estimate) Ran() bool {
	return e.Skipped == "" && e.MinEntropy >= 0
}
