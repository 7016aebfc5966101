package main

import (
	"context"
	"fmt"

	"github.com/hsmentropy/hsmentropy/health/assess"
)

// assessConditioning computes a conditioning component's output entropy
// (ea_conditioning). A non-vetted component's h' comes from --h-prime or
// from the conditioned samples in FILE, assessed as --conditioned does
// (ea_non_iid -c).
func assessConditioning(ctx context.Context, s streams, f assessFlags, files []string, info assess.RunInfo) error {
	switch {
	case f.vetted == f.nonVetted:
		return usageError("assess: --conditioning needs one of --vetted and --non-vetted")
	case !f.set["n-in"] || !f.set["n-out"] || !f.set["nw"] || !f.hIn.set:
		return usageError("assess: --conditioning needs --n-in, --n-out, --nw and --h-in")
	case f.vetted && (f.hPrime.set || len(files) > 0):
		return usageError("assess: h' (--h-prime or FILE) applies to --non-vetted only")
	case f.nonVetted && f.hPrime.set == (len(files) > 0):
		return usageError("assess: --non-vetted needs h': --h-prime or a FILE of conditioned samples, not both")
	case f.restart || f.iid || f.truncate || f.verbose || f.set["shuffles"]:
		return usageError("assess: --conditioning takes only its own options, --json, and --bits and --workers for FILE")
	}
	p := assess.ConditioningParams{Vetted: f.vetted, NIn: f.nIn, NOut: f.nOut, NW: f.nw, HIn: f.hIn.v, HPrime: f.hPrime.v}
	if f.nonVetted && !f.hPrime.set {
		h, err := conditionedHPrime(ctx, s, files[0], f)
		if err != nil {
			return err
		}
		p.HPrime = h
	}
	r, err := assess.Conditioning(p)
	if err != nil {
		return usageError("%v", err)
	}
	if f.json {
		return assess.WriteJSON(s.stdout, r.Report(info))
	}
	return r.WriteText(s.stdout)
}

// conditionedHPrime assesses the conditioned samples in name and returns
// h' = H_bitstring, as ea_non_iid -c does.
func conditionedHPrime(ctx context.Context, s streams, name string, f assessFlags) (float64, error) {
	raw, err := readInput(name, s.stdin)
	if err != nil {
		return 0, err
	}
	d, err := assess.Prepare(raw, f.bits)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", displayName(name), err)
	}
	prog := newProgress(s.stderr)
	r, err := assess.NonIID(ctx, d, assess.NonIIDOptions{Conditioned: true, Workers: f.workers, Progress: prog.estimators})
	prog.done()
	if err != nil {
		return 0, fmt.Errorf("assess: h' of %s: %w", displayName(name), err)
	}
	fmt.Fprintf(s.stderr, "entropyd: h' = %.17g, from %s (H_bitstring, SP 800-90B Section 3.1.5.2)\n", r.HBitstring, displayName(name))
	return r.HBitstring, nil
}
