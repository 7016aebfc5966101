package assess

import (
	"context"
	"math"
	"runtime"
	"slices"
	"sync"
)

// NonIIDOptions selects what [NonIID] assesses, as the tool's options do.
// The zero value is the tool's default (ea_non_iid -i -a).
type NonIIDOptions struct {
	// Conditioned assesses a conditioned sequential dataset (the tool's -c,
	// SP 800-90B Section 3.1.5.2): only the bitstring is assessed and the
	// result is h' = H_bitstring. Otherwise the initial entropy estimate of
	// Section 3.1.3 is made (the tool's -i).
	Conditioned bool
	// Truncate assesses at most the first MinSamples bits of the bitstring
	// (the tool's -t; -a, all bits, is the default).
	Truncate bool
	// Workers is the number of estimators run at once; 0 means
	// runtime.GOMAXPROCS(0). The results do not depend on it.
	Workers int
	// Progress, when set, is called after each estimator finishes with the
	// number finished, the number in all and the one just finished (for
	// example "Bitstring LZ78Y Test"). Calls do not overlap.
	Progress func(done, total int, finished string)
}

// EstimateSet holds the estimates made on one sequence, nil where an
// estimator did not run on it.
type EstimateSet struct {
	MCV         *MCVResult
	Collision   *CollisionResult
	Markov      *MarkovResult
	Compression *CompressionResult
	TTuple      *TTupleResult
	LRS         *LRSResult
	MultiMCW    *PredictionResult
	Lag         *PredictionResult
	MultiMMC    *PredictionResult
	LZ78Y       *PredictionResult
}

// Estimates returns the estimates that were made, in the order of Section
// 6.3 (the tool's order), skipped ones included.
func (s *EstimateSet) Estimates() []Estimate {
	var out []Estimate
	add := func(ok bool, e func() Estimate) {
		if ok {
			out = append(out, e())
		}
	}
	add(s.MCV != nil, func() Estimate { return s.MCV.Estimate })
	add(s.Collision != nil, func() Estimate { return s.Collision.Estimate })
	add(s.Markov != nil, func() Estimate { return s.Markov.Estimate })
	add(s.Compression != nil, func() Estimate { return s.Compression.Estimate })
	add(s.TTuple != nil, func() Estimate { return s.TTuple.Estimate })
	add(s.LRS != nil, func() Estimate { return s.LRS.Estimate })
	add(s.MultiMCW != nil, func() Estimate { return s.MultiMCW.Estimate })
	add(s.Lag != nil, func() Estimate { return s.Lag.Estimate })
	add(s.MultiMMC != nil, func() Estimate { return s.MultiMMC.Estimate })
	add(s.LZ78Y != nil, func() Estimate { return s.LZ78Y.Estimate })
	return out
}

// min returns the least estimate that ran, or ceiling when it is lower.
func (s *EstimateSet) min(ceiling float64) float64 {
	h := ceiling
	for _, e := range s.Estimates() {
		if e.Ran() {
			h = math.Min(h, e.MinEntropy)
		}
	}
	return h
}

// NonIIDResult is the outcome of the non-IID track.
type NonIIDResult struct {
	// Bits is the number of bits per sample, K the number of distinct
	// values, Samples the number of samples and BitstringLen the number of
	// bits assessed as the bitstring.
	Bits, K, Samples, BitstringLen int
	// OriginalRun reports whether the samples were assessed (Literal and
	// HOriginal are set): for the initial entropy estimate (Section
	// 3.1.3), not for a conditioned sequential dataset (Section 3.1.5.2).
	// BitstringRun reports whether the bitstring was (Bitstring and
	// HBitstring are set): when the samples have more than two values, or
	// for a conditioned dataset.
	OriginalRun, BitstringRun bool
	// Literal holds the estimates on the samples, Bitstring those on the
	// bitstring.
	Literal, Bitstring EstimateSet
	// HOriginal is the least estimate on the samples (at most Bits), and
	// HBitstring the least on the bitstring, per bit (at most 1).
	HOriginal, HBitstring float64
	// HAssessed is the result: min(H_original, Bits × H_bitstring) of
	// those that were run (at most Bits), per sample.
	HAssessed float64
	// Warnings are those of the data (see Data.Warnings).
	Warnings []error
}

// estimatorJob runs one estimator on one sequence and stores its result.
// cost ranks jobs for scheduling, the costliest first.
type estimatorJob struct {
	name string
	cost int
	run  func()
}

// NonIID runs the non-IID track of SP 800-90B Section 6.3 on d, as the tool
// does (ea_non_iid, version 1.1.7):
//
//   - The bitstring is assessed with all ten estimators of Sections 6.3.1 to
//     6.3.10 when the samples have more than two distinct values or the
//     dataset is conditioned; H_bitstring is the least of them and of 1.
//   - For the initial entropy estimate, the samples are assessed with the
//     Most Common Value, t-Tuple, LRS and the four predictor estimates, and,
//     when they have exactly two distinct values, with the three estimators
//     for bit strings only (Collision, Markov, Compression) too; H_original
//     is the least of them and of Bits.
//   - The result is min(H_original, Bits × H_bitstring) per Section 3.1.3
//     (or Bits × h' for a conditioned dataset, Section 3.1.5.2).
//
// Estimators run concurrently (opts.Workers). NonIID returns ctx.Err() if
// ctx is done before all have run.
func NonIID(ctx context.Context, d *Data, opts NonIIDOptions) (*NonIIDResult, error) {
	bitstring := d.BitstringFor(opts.Truncate)
	r := &NonIIDResult{
		Bits:         d.Bits,
		K:            d.K,
		Samples:      len(d.Symbols),
		BitstringLen: len(bitstring),
		OriginalRun:  !opts.Conditioned,
		BitstringRun: d.K > 2 || opts.Conditioned,
		Warnings:     d.Warnings,
	}

	// The jobs, the costliest first so that the workers finish together.
	var jobs []estimatorJob
	if r.BitstringRun {
		jobs = append(jobs, r.Bitstring.jobs("Bitstring", bitstring, 2)...)
	}
	if r.OriginalRun {
		jobs = append(jobs, r.Literal.jobs("Literal", d.Symbols, d.K)...)
	}
	slices.SortStableFunc(jobs, func(a, b estimatorJob) int { return b.cost - a.cost })
	if err := runJobs(ctx, jobs, opts); err != nil {
		return nil, err
	}

	// H_original and H_bitstring, then the assessment.
	r.HAssessed = float64(d.Bits)
	if r.BitstringRun {
		r.HBitstring = r.Bitstring.min(1)
		r.HAssessed = math.Min(r.HAssessed, r.HBitstring*float64(d.Bits))
	}
	if r.OriginalRun {
		r.HOriginal = r.Literal.min(float64(d.Bits))
		r.HAssessed = math.Min(r.HAssessed, r.HOriginal)
	}
	return r, nil
}

// jobs returns the estimators to run on seq, whose symbols are in 0..k-1:
// all ten when it is binary, all but the three for bit strings only
// otherwise. Their costs rank their run times on 1,000,000 8-bit samples
// (the 8,000,000-bit bitstring costs most); the estimators for bit strings
// only are cheap.
func (s *EstimateSet) jobs(label string, seq []byte, k int) []estimatorJob {
	binary := k == 2
	rank := func(binaryCost, literalCost int) int {
		if binary {
			return binaryCost
		}
		return literalCost
	}
	jobs := []estimatorJob{
		{label + " t-Tuple and LRS Tests", rank(9, 4), func() {
			t, l := TupleEstimates(seq, k)
			s.TTuple, s.LRS = &t, &l
		}},
		{label + " MultiMMC Test", rank(8, 5), func() { r := MultiMMC(seq, k); s.MultiMMC = &r }},
		{label + " LZ78Y Test", rank(7, 4), func() { r := LZ78Y(seq, k); s.LZ78Y = &r }},
		{label + " MultiMCW Test", rank(6, 3), func() { r := MultiMCW(seq, k); s.MultiMCW = &r }},
		{label + " Lag Test", rank(5, 2), func() { r := Lag(seq, k); s.Lag = &r }},
		{label + " Most Common Value Test", 0, func() { r := MostCommonValue(seq, k); s.MCV = &r }},
	}
	if binary {
		jobs = append(jobs,
			estimatorJob{label + " Collision Test", 0, func() { r := Collision(seq); s.Collision = &r }},
			estimatorJob{label + " Markov Test", 0, func() { r := Markov(seq); s.Markov = &r }},
			estimatorJob{label + " Compression Test", 1, func() { r := Compression(seq); s.Compression = &r }},
		)
	}
	return jobs
}

// runJobs runs the jobs on opts.Workers goroutines, in order of the slice.
func runJobs(ctx context.Context, jobs []estimatorJob, opts NonIIDOptions) error {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(jobs))

	next := make(chan estimatorJob)
	var mu sync.Mutex // serialises Progress
	done := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range next {
				j.run()
				mu.Lock()
				done++
				if opts.Progress != nil {
					opts.Progress(done, len(jobs), j.name)
				}
				mu.Unlock()
			}
		})
	}
	var err error
feed:
	for _, j := range jobs {
		select {
		case next <- j:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	return err
}
