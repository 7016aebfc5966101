// Package health runs the continuous health tests of NIST SP 800-90B on a
// stream of samples: the Repetition Count Test (Section 4.4.1), the Adaptive
// Proportion Test (Section 4.4.2), and the start-up test (Section 4.3) over
// the first [StartUpSamples] samples. Every source entropyd or hsmrand
// draws from passes through a [Tester] before its bytes are used.
//
// # The tests
//
// Samples are 1 to 8 bits wide, one per byte in the low bits; for 8-bit
// samples a byte is a sample, and a fast path tests them at several GB/s
// without allocating.
//
// The Repetition Count Test counts the run of identical samples ending at
// each sample and fails a sample whose run reaches the cutoff C. The
// Adaptive Proportion Test cuts the stream into windows of W samples (1024
// for binary samples, 512 otherwise) and counts, in each, the samples equal
// to the window's first sample, that sample included; a sample so counted
// fails when the count reaches the cutoff. Counting goes on after a failure,
// so every further sample of the run, or counted in the window, fails too:
// a source that stays stuck reaches the permanent cutoff.
//
// # Cutoffs
//
// For a claimed min-entropy H bits per sample and a false-alarm probability
// alpha per opportunity, [RCTCutoff] gives C = 1 + ceil(-log2(alpha)/H): a
// source with min-entropy H repeats a sample C-1 times with probability at
// most 2^(-H(C-1)) ≤ alpha. [APTCutoff] gives 1 + CRITBINOM(W, 2^-H, 1-alpha),
// the smallest c with P[Binomial(W, 2^-H) ≥ c] ≤ alpha, from the exact
// binomial tail. At alpha = 2^-20 they give the standard's examples: H = 0.5,
// 41 and (W = 512) 410; H = 1, 21 and 311 (W = 512) or 589 (W = 1024).
// Alpha is per opportunity, so false alarms scale with throughput: choose it
// by rate, as [DefaultHSMConfig] does. As the standard counts, the window's
// first sample is always in the count, which is thus 1 + Binomial(W-1, p):
// an ideal source fails a window with probability P[Binomial(W-1, p) ≥ C-1],
// up to a few times alpha; the rates quoted in this package use that exact
// figure.
//
// # Intermittent and permanent failures
//
// Each test has two cutoffs, as in jitterentropy: one for an intermittent
// failure (alpha 2^-30 by default) and one for a permanent failure (2^-60).
// With Config.PermanentAfter set, the PermanentAfter-th intermittent failure
// within Config.Period samples is permanent too. Failures are [*Failure]
// errors saying which test failed, at which sample of the stream, the count
// and the cutoff; errors.Is tells [ErrIntermittent] from [ErrPermanent].
//
// What the consumer must do:
//
//   - Intermittent: discard the whole block that failed ([Tester.Test]
//     returns none of it). The Tester re-runs the start-up test on the
//     samples that follow, and releases none of them until it passes.
//   - Permanent: take the source out of service. The Tester fails every call
//     until an operator or a policy calls [Tester.Restore], which forgets the
//     tests' state and starts a new start-up test.
//
// Recovery is observable: [Tester.State] says StartUp, Operational or
// Failed, and [Tester.Stats] counts samples, failures by test and kind,
// start-up tests and restores, and reports the longest run and the largest
// window count seen against their cutoffs.
//
// # What the tests can and cannot catch on HSM output
//
// An HSM's random output is already the output of its DRBG, not raw noise.
// On it these tests catch a stuck or broken source: a constant byte, a bus
// or driver stuck at a value, output with most bits stuck, a short block
// repeated (up to (W-1)/(C-1) = 20 bytes with [DefaultHSMConfig]), a value
// far more frequent than the others. They do not make the HSM an SP 800-90B
// entropy source, and they say nothing about its entropy: a DRBG whose seed
// was predictable, a repeated long output, one bit of eight stuck, or any
// deterministic stream, pass. Entropy assessment of raw noise is the job of
// the health/assess package and of the HSM's own validation.
package health
