package assess

import (
	"context"
	"crypto/rand"
	"fmt"
	"math"
	"runtime"
	"slices"
)

// ErrRestartSize reports restart data that is not 1000 restarts of 1000
// samples.
var ErrRestartSize = fmt.Errorf("assess: restart data must hold %d restarts of %d samples (%d samples)", RestartRows, RestartColumns, restartSamples)

// RestartOptions configures [Restart]. The zero value runs the non-IID
// validation (the tool's ea_restart -n) with H_I estimated from the data.
type RestartOptions struct {
	// IID selects the IID track (ea_restart -i): the row and column
	// estimates are the Most Common Value estimate, and the IID tests of
	// Section 5 run on the rows and on the columns. Otherwise the non-IID
	// estimators of Section 6.3 make them.
	IID bool
	// HInitial is H_I, the initial entropy estimate of Section 3.1.3 in bits
	// per sample, the tool's <H_I> argument. It is used when HInitialGiven
	// is set.
	HInitial      float64
	HInitialGiven bool
	// Without HInitialGiven, H_I is estimated from the restart data read as
	// one sequential dataset (row after row), as the tool's documentation
	// asks and as ea_iid -i or ea_non_iid -i would on the same file. The
	// rows are that dataset, so the estimate reuses the row estimates.

	// Workers is the number of estimators run at once and of goroutines
	// that shuffle; 0 means runtime.GOMAXPROCS(0).
	Workers int
	// Shuffles and Seed configure the IID permutation tests, as in
	// [IIDOptions]: 0 shuffles means DefaultShuffles, a nil Seed draws one
	// from crypto/rand.
	Shuffles int
	Seed     *[32]byte
	// Progress, when set, is called after each estimator finishes, as
	// NonIIDOptions.Progress is; ShuffleProgress after each round of
	// shuffles, as IIDOptions.Progress is.
	Progress        func(done, total int, finished string)
	ShuffleProgress func(done, total int)
}

// RestartIIDTests holds the IID tests of Section 5 on the rows or on the
// columns.
type RestartIIDTests struct {
	ChiSquare   ChiSquareResult
	LRS         LRSTestResult
	Permutation PermutationResult
}

// Passed reports whether all three tests passed.
func (t *RestartIIDTests) Passed() bool {
	return t.ChiSquare.Passed && t.LRS.Passed && t.Permutation.Passed
}

// RestartResult is the outcome of the restart tests of SP 800-90B Section
// 3.1.4.
type RestartResult struct {
	// IID is true for the IID track. Bits is the number of bits per sample
	// and K the number of distinct values.
	IID     bool
	Bits, K int
	// HInitial is H_I; HInitialEstimated tells whether it was estimated
	// from the data (then HBitstring is the bitstring's estimate per bit
	// that took part, and Bitstring holds the non-IID estimates on the
	// bitstring, when the samples have more than two values).
	HInitial          float64
	HInitialEstimated bool
	HBitstring        float64
	Bitstring         EstimateSet

	// The sanity check, Section 3.1.4.3: XRows and XColumns are the
	// largest count of any one value in a row and in a column, XMax the
	// larger, XCutoff the bound ([RestartCutoff]).
	XRows, XColumns, XMax, XCutoff int
	SanityPassed                   bool

	// The validation, Section 3.1.4.2, made only when the sanity check
	// passed: the estimates on the row dataset and on the column dataset
	// (only MCV on the IID track), and H_r and H_c, the least of each and
	// of Bits. ValidationPassed is min(H_r, H_c) ≥ H_I/2.
	Rows, Columns    EstimateSet
	HRows, HColumns  float64
	ValidationPassed bool
	// RowTests and ColumnTests are the IID tests (IID track only).
	RowTests, ColumnTests *RestartIIDTests
	// Mean and Median are those of the samples (IID track), as ea_iid
	// computes them for its permutation tests.
	Mean, Median float64

	// HAssessed is min(H_r, H_c, H_I), the validated estimate (or the
	// h_in of a conditioning component, Section 3.1.5), when both the
	// sanity check and the validation passed.
	HAssessed float64
}

// Passed reports whether the sanity check and the validation passed.
func (r *RestartResult) Passed() bool {
	return r.SanityPassed && r.ValidationPassed
}

// Restart runs the restart tests of SP 800-90B Section 3.1.4 on d, which
// holds 1000 restarts of 1000 samples, row-major (sample c of restart r at
// index 1000·r + c), as NIST's ea_restart does:
//
//  1. The sanity check (3.1.4.3): in each row and each column, count the
//     most common value; fail if the largest count, X_max, exceeds
//     X_cutoff, the (1-α) quantile of that count for a source with H_I
//     bits of min-entropy per sample ([RestartCutoff]). On failure the tool
//     stops, and so does Restart: the validation is not made.
//  2. The validation (3.1.4.2): estimate the min-entropy of the row dataset
//     and of the column dataset (the transposed matrix) as for H_I, giving
//     H_r and H_c; pass if min(H_r, H_c) ≥ H_I/2.
//  3. The result is min(H_r, H_c, H_I).
//
// On the IID track the estimate is the Most Common Value estimate, and the
// chi-square, LRS and permutation tests run on the rows and on the columns.
// Their verdicts are reported but, as in the tool, do not change the
// outcome; a lab reads them to check that the IID claim holds for restarts.
// The tool runs its second permutation test on the rows again (a slip in
// restart_main.cpp); Restart runs it on the columns. The rows and the
// columns hold the same samples, so a shuffle of the rows is distributed as
// a shuffle of the columns: the two permutation tests count the same
// shuffles, each against its own original, and each shuffle's statistics
// are computed once. Each test is still the procedure of Section 5.1; their
// counts are not independent of each other, which no verdict relies on.
//
// Restart returns an error for data of the wrong size, for H_I outside
// 0..Bits or above what K values can carry, and when ctx is done; a failed
// check is a result, not an error.
func Restart(ctx context.Context, d *Data, opts RestartOptions) (*RestartResult, error) {
	if len(d.Symbols) != restartSamples || len(d.Raw) != restartSamples {
		return nil, fmt.Errorf("%w, got %d", ErrRestartSize, len(d.Symbols))
	}
	if opts.Shuffles < 0 || opts.Workers < 0 {
		return nil, fmt.Errorf("assess: negative shuffles (%d) or workers (%d)", opts.Shuffles, opts.Workers)
	}
	bits := float64(d.Bits)
	r := &RestartResult{IID: opts.IID, Bits: d.Bits, K: d.K, HInitial: opts.HInitial}
	if opts.HInitialGiven && !(opts.HInitial >= 0 && opts.HInitial <= bits) {
		return nil, fmt.Errorf("assess: H_I %v not in 0..%d (bits per sample)", opts.HInitial, d.Bits)
	}
	rows := d.Symbols
	cols := transpose(rows)
	jobOpts := NonIIDOptions{Workers: opts.Workers, Progress: opts.Progress}

	// H_I from the sequential dataset, which is the row dataset.
	rowsDone := false
	if !opts.HInitialGiven {
		r.HInitialEstimated = true
		if err := r.estimateInitial(ctx, d, jobOpts); err != nil {
			return nil, err
		}
		rowsDone = true
	}

	// Step 1. The sanity check.
	cutoff, err := RestartCutoff(r.HInitial, d.K)
	if err != nil {
		return nil, err
	}
	r.XCutoff = cutoff
	r.XRows, r.XColumns = maxRowCount(rows, d.K), maxRowCount(cols, d.K)
	r.XMax = max(r.XRows, r.XColumns)
	r.SanityPassed = r.XMax <= r.XCutoff
	if !r.SanityPassed {
		return r, nil
	}

	// Step 2. The validation.
	if opts.IID {
		r.Rows.MCV, r.Columns.MCV = mcvOf(rows, d.K), mcvOf(cols, d.K)
		if err := r.iidTests(ctx, d, cols, opts); err != nil {
			return nil, err
		}
	} else {
		jobs := r.Columns.jobs("Columns", cols, d.K)
		if !rowsDone {
			jobs = append(r.Rows.jobs("Rows", rows, d.K), jobs...)
		}
		if err := runJobs(ctx, byCost(jobs), jobOpts); err != nil {
			return nil, err
		}
	}
	r.HRows, r.HColumns = r.Rows.min(bits), r.Columns.min(bits)
	r.ValidationPassed = !(math.Min(r.HRows, r.HColumns) < r.HInitial/2)

	// Step 3. The result.
	if r.ValidationPassed {
		r.HAssessed = math.Min(math.Min(r.HRows, r.HColumns), r.HInitial)
	}
	return r, nil
}

// estimateInitial sets H_I from d read sequentially: on the IID track
// min(Bits, H_original, Bits·H_bitstring) of the Most Common Value
// estimates (ea_iid -i), otherwise that of all the non-IID estimators
// (ea_non_iid -i), the bitstring assessed when K > 2. The row estimates
// are made on the way: the rows are the sequential dataset.
func (r *RestartResult) estimateInitial(ctx context.Context, d *Data, opts NonIIDOptions) error {
	bits := float64(d.Bits)
	r.HBitstring = 1
	if r.IID {
		r.Rows.MCV = mcvOf(d.Symbols, d.K)
		if d.K > 2 {
			r.Bitstring.MCV = mcvOf(d.Bitstring, 2)
		}
	} else {
		jobs := r.Rows.jobs("Rows", d.Symbols, d.K)
		if d.K > 2 {
			jobs = append(jobs, r.Bitstring.jobs("Bitstring", d.Bitstring, 2)...)
		}
		if err := runJobs(ctx, byCost(jobs), opts); err != nil {
			return err
		}
	}
	if d.K > 2 {
		r.HBitstring = r.Bitstring.min(1)
	}
	r.HInitial = math.Min(r.Rows.min(bits), bits*r.HBitstring)
	return nil
}

// iidTests runs the IID tests on the rows and the columns.
func (r *RestartResult) iidTests(ctx context.Context, d *Data, cols []byte, opts RestartOptions) error {
	r.Mean, r.Median = meanMedian(d)
	colData := &Data{Raw: transpose(d.Raw), Symbols: cols, K: d.K, Bits: d.Bits}
	shuffles := opts.Shuffles
	if shuffles == 0 {
		shuffles = DefaultShuffles
	}
	workers := opts.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var seed [32]byte
	if opts.Seed != nil {
		seed = *opts.Seed
	} else {
		_, _ = rand.Read(seed[:]) // crypto/rand.Read never fails
	}
	r.RowTests = &RestartIIDTests{
		ChiSquare: ChiSquare(d.Symbols, d.K),
		LRS:       LongestRepeatedSubstringTest(d.Symbols, d.K),
	}
	r.ColumnTests = &RestartIIDTests{
		ChiSquare: ChiSquare(cols, d.K),
		LRS:       LongestRepeatedSubstringTest(cols, d.K),
	}
	rowSrc := newPermSource(d, r.Mean, r.Median)
	run := permRun{src: rowSrc, shuffles: shuffles, workers: workers, seed: seed, progress: opts.ShuffleProgress}
	perm, err := run.runAll(ctx, []*permSource{rowSrc, newPermSource(colData, r.Mean, r.Median)})
	if err != nil {
		return fmt.Errorf("assess: permutation tests stopped: %w", err)
	}
	r.RowTests.Permutation, r.ColumnTests.Permutation = perm[0], perm[1]
	return nil
}

// byCost orders jobs the costliest first, so that the workers finish
// together.
func byCost(jobs []estimatorJob) []estimatorJob {
	slices.SortStableFunc(jobs, func(a, b estimatorJob) int { return b.cost - a.cost })
	return jobs
}

func mcvOf(s []byte, k int) *MCVResult {
	r := MostCommonValue(s, k)
	return &r
}

// transpose returns the column dataset of restart data: the sample of
// restart r at column c moves from index 1000·r + c to 1000·c + r. It works
// in 8×8 tiles so that reads and writes both stay in cache.
func transpose(rows []byte) []byte {
	const n, tile = RestartColumns, 8
	cols := make([]byte, len(rows))
	for r0 := 0; r0 < n; r0 += tile {
		for c0 := 0; c0 < n; c0 += tile {
			for r := r0; r < r0+tile; r++ {
				for c := c0; c < c0+tile; c++ {
					cols[c*n+r] = rows[r*n+c]
				}
			}
		}
	}
	return cols
}

// maxRowCount returns the largest number of times any one value occurs in
// any row of 1000 samples.
func maxRowCount(s []byte, k int) int {
	best := 0
	var counts [1 << maxBits]int
	for r := 0; r < len(s); r += RestartColumns {
		clear(counts[:k])
		for _, x := range s[r : r+RestartColumns] {
			counts[x]++
		}
		for _, c := range counts[:k] {
			best = max(best, c)
		}
	}
	return best
}
