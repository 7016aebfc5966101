package assess

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"runtime"
)

// IIDOptions configures [IID]. The zero value runs the assessment as NIST's
// tool does (ea_iid with -i and -a).
type IIDOptions struct {
	// Shuffles is the number of permutations of the permutation tests;
	// 0 means DefaultShuffles (10,000), as the standard prescribes. Fewer
	// shuffles are for tests: the verdicts then mean less.
	Shuffles int
	// Seed seeds the shuffles, making a run reproducible; nil draws a seed
	// from crypto/rand (the tool seeds from /dev/urandom).
	Seed *[32]byte
	// Workers is the number of goroutines that shuffle; 0 means
	// runtime.GOMAXPROCS(0). The result does not depend on it.
	Workers int
	// Progress, when not nil, is called after every round of shuffles with
	// the number of shuffles done and the number requested. It is called
	// from the goroutine that called IID. A run that decides every
	// statistic early stops before done reaches total.
	Progress func(done, total int)
	// TruncateBitstring assesses H_bitstring on at most the first
	// MinSamples bits (the tool's -t); by default all bits are used (-a).
	TruncateBitstring bool
}

// IIDResult is the IID-track assessment, per SP 800-90B Sections 5 and 6.1.
// Its JSON form is the tool's testCase object (ea_iid -o).
type IIDResult struct {
	// Mean is the mean of the raw samples, Median the median of the
	// symbols (0.5 for binary data), as the tool computes them.
	Mean   float64 `json:"mean"`
	Median float64 `json:"median"`
	// Binary is true when the samples take exactly two values.
	Binary bool `json:"binary,omitempty"`

	// Literal is the Most Common Value estimate on the symbols; Bitstring
	// the one on the bitstring, computed only for non-binary data.
	Literal   MCVResult  `json:"-"`
	Bitstring *MCVResult `json:"-"`
	// HOriginal is Literal's estimate; HBitstring Bitstring's (1 when it
	// was not computed); HAssessed is min(bits, HOriginal,
	// bits·HBitstring), the tool's "Assessed min entropy".
	HOriginal  float64 `json:"hOriginal"`
	HBitstring float64 `json:"hBitstring"`
	HAssessed  float64 `json:"hAssessed"`

	// ChiSquare, LRS and Permutation are the three IID tests.
	ChiSquare   ChiSquareResult   `json:"-"`
	LRS         LRSTestResult     `json:"-"`
	Permutation PermutationResult `json:"-"`

	PassedChiSquareTests               bool `json:"passedChiSquareTests"`
	PassedIIDPermutationTests          bool `json:"passedIidPermutationTests"`
	PassedLongestRepeatedSubstringTest bool `json:"passedLongestRepeatedSubstringTest"`

	// PermutationTestResults is the tool's rendering of the counts: three
	// objects, "iteration" 0, 1 and 2 holding C[i][0], C[i][1] and C[i][2]
	// of every statistic by its JSON name.
	PermutationTestResults []map[string]float64 `json:"permutationTestResults"`

	// TestCaseDesc is the tool's test case description: empty for the one
	// IID test case it writes.
	TestCaseDesc string `json:"testCaseDesc"`
}

// Passed reports whether the samples passed all three IID tests, so that
// HAssessed may be claimed under the IID assumption.
func (r *IIDResult) Passed() bool {
	return r.PassedChiSquareTests && r.PassedIIDPermutationTests && r.PassedLongestRepeatedSubstringTest
}

// IID runs the IID track of SP 800-90B on prepared samples, as NIST's tool
// ea_iid does: the Most Common Value estimate (Section 6.3.1) on the symbols
// and, for non-binary data, on the bitstring (Section 3.1.3); the chi-square
// tests (Section 5.2.1 to 5.2.4); the length of the longest repeated
// substring test (Section 5.2.5); and the permutation tests (Section 5.1).
//
// The permutation tests dominate the run time: each shuffle recomputes the
// statistics not yet decided on all samples. The statistics on the
// unshuffled samples, the chi-square and LRS values are deterministic and
// equal the tool's; the shuffle counts are random (seeded by opts.Seed).
func IID(d *Data, opts IIDOptions) (IIDResult, error) {
	return IIDContext(context.Background(), d, opts)
}

// IIDContext is [IID] with a context that can stop the permutation tests
// between rounds of shuffles; it then returns the context's error.
func IIDContext(ctx context.Context, d *Data, opts IIDOptions) (IIDResult, error) {
	var r IIDResult
	if err := checkIIDData(d); err != nil {
		return r, err
	}
	if opts.Shuffles < 0 || opts.Workers < 0 {
		return r, fmt.Errorf("assess: negative shuffles (%d) or workers (%d)", opts.Shuffles, opts.Workers)
	}

	// Baseline statistics (the tool's calc_stats).
	r.Mean, r.Median = meanMedian(d)
	r.Binary = d.K == 2

	// Step 1. Min-entropy: MCV on the symbols, and on the bitstring for
	// non-binary data; assessed = min(bits, H_original, bits·H_bitstring).
	r.Literal = MostCommonValue(d.Symbols, d.K)
	r.HOriginal = r.Literal.MinEntropy
	r.HBitstring = 1
	r.HAssessed = float64(d.Bits)
	if !r.Binary {
		b := MostCommonValue(d.BitstringFor(opts.TruncateBitstring), 2)
		r.Bitstring = &b
		r.HBitstring = b.MinEntropy
		r.HAssessed = min(r.HAssessed, r.HBitstring*float64(d.Bits))
	}
	r.HAssessed = min(r.HAssessed, r.HOriginal)

	// Step 2. The chi-square tests.
	r.ChiSquare = ChiSquare(d.Symbols, d.K)
	r.PassedChiSquareTests = r.ChiSquare.Passed

	// Step 3. The length of the longest repeated substring test.
	r.LRS = LongestRepeatedSubstringTest(d.Symbols, d.K)
	r.PassedLongestRepeatedSubstringTest = r.LRS.Passed

	// Step 4. The permutation tests.
	run := permRun{
		src:      newPermSource(d, r.Mean, r.Median),
		shuffles: opts.Shuffles,
		workers:  opts.Workers,
		progress: opts.Progress,
	}
	if run.shuffles == 0 {
		run.shuffles = DefaultShuffles
	}
	if run.workers == 0 {
		run.workers = runtime.GOMAXPROCS(0)
	}
	if opts.Seed != nil {
		run.seed = *opts.Seed
	} else {
		_, _ = rand.Read(run.seed[:]) // crypto/rand.Read never fails
	}
	perm, err := run.run(ctx)
	if err != nil {
		return r, fmt.Errorf("assess: permutation tests stopped: %w", err)
	}
	r.Permutation = perm
	r.PassedIIDPermutationTests = perm.Passed
	r.PermutationTestResults = perm.toolCounts()
	return r, nil
}

// errIIDData reports samples that IID cannot assess.
var errIIDData = errors.New("assess: IID track needs prepared samples with at least two values")

func checkIIDData(d *Data) error {
	switch {
	case d == nil || d.K < 2 || len(d.Symbols) < 2 || len(d.Raw) != len(d.Symbols):
		return errIIDData
	case len(d.Symbols) > math.MaxInt32:
		return fmt.Errorf("assess: %d samples, at most %d supported", len(d.Symbols), math.MaxInt32)
	}
	return nil
}

// meanMedian returns the mean of the raw samples and the median of the
// symbols (0.5 for binary data, per SP 800-90B Sections 5.1.5 and 5.1.6),
// as the tool's calc_stats does.
func meanMedian(d *Data) (mean, median float64) {
	var rawCounts, counts [256]int
	for _, x := range d.Raw {
		rawCounts[x]++
	}
	total := 0
	for v, c := range rawCounts {
		total += v * c
	}
	mean = float64(total) / float64(len(d.Raw))
	if d.K == 2 {
		return mean, 0.5
	}
	for _, s := range d.Symbols {
		counts[s]++
	}
	// The symbols at sorted positions half-1 and half.
	at := func(pos int) int {
		for v, c := range counts {
			if pos < c {
				return v
			}
			pos -= c
		}
		panic("assess: internal error: median position out of range")
	}
	n := len(d.Symbols)
	half := n / 2
	if n%2 == 1 {
		return mean, float64(at(half))
	}
	return mean, float64(at(half)+at(half-1)) / 2
}

// toolCounts renders the counts as the tool's JSON does.
func (p *PermutationResult) toolCounts() []map[string]float64 {
	out := make([]map[string]float64, 3)
	for it := range out {
		m := map[string]float64{"iteration": float64(it)}
		for _, st := range p.Statistics {
			m[st.Name] = float64([...]int{st.Greater, st.Equal, st.Less}[it])
		}
		out[it] = m
	}
	return out
}

// Labels returns the statistics' names as the tool's verbose output prints
// them ("periodicity(8)"), in the order of Statistics.
func (p *PermutationResult) Labels() []string {
	labels := make([]string, permStats)
	for i := range labels {
		labels[i] = permStatLabel(i)
	}
	return labels
}
