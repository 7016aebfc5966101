package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hsmentropy/hsmentropy/health/assess"
)

const assessUsage = `entropyd assess estimates the min-entropy of recorded noise-source samples
per NIST SP 800-90B.

Usage: entropyd assess [options] [FILE]
       entropyd assess --restart [--iid|--non-iid] [--bits N] [--h-initial H] [--json] FILE
       entropyd assess --conditioning --vetted|--non-vetted --n-in N --n-out N --nw N
                       --h-in H [--h-prime H | FILE] [--json]

Its numbers are those of NIST's SP800-90B_EntropyAssessment %s (ea_non_iid,
ea_iid, ea_restart, ea_conditioning). FILE holds one sample per byte, in its
low bits; "-" or no FILE reads standard input, so that "entropyd sample ... |
entropyd assess" works.

By default, the initial entropy estimate of Section 3.1.3 (non-IID track, or
IID with --iid) of at least 1,000,000 samples read sequentially.

--restart runs the restart tests of Section 3.1.4 (ea_restart): FILE holds
1000 restarts of 1000 samples, row-major (byte 1000*r+c is sample c of restart
r), as "entropyd sample --restarts 1000 --per-restart 1000" writes them. The
sanity check compares X_max, the most common value's largest count in any row
or column, with X_cutoff; the validation estimates H_r and H_c on the rows and
the columns and needs min(H_r, H_c) >= H_I/2. The result is min(H_r, H_c,
H_I). Without --h-initial, H_I is estimated from FILE read sequentially.

--conditioning computes the output entropy h_out of a conditioning component
(Section 3.1.5, ea_conditioning): vetted, or non-vetted with h' from
--h-prime or from the conditioned samples in FILE (as --conditioned finds it).

--json prints the report in the shape of the tool's -o file.

Exit status: 0 done (--restart: both checks passed), 1 an error, 2 a bad
command line, %d the restart sanity check failed (X_max > X_cutoff), %d the
restart validation failed (min(H_r, H_c) < H_I/2).

Options:
`

// assessFlags are the options of entropyd assess.
type assessFlags struct {
	bits        int
	iid, nonIID bool
	json        bool
	verbose     bool
	conditioned bool
	truncate    bool
	shuffles    int
	workers     int

	restart  bool
	hInitial optionalFloat

	conditioning      bool
	vetted, nonVetted bool
	nIn, nOut, nw     int
	hIn, hPrime       optionalFloat

	set map[string]bool // the flags given
}

func (f *assessFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.bits, "bits", 0, "bits per sample, 1 to 8 (default: inferred from the highest bit set)")
	fs.BoolVar(&f.nonIID, "non-iid", false, "run the non-IID track, SP 800-90B Section 6.3 (the default)")
	fs.BoolVar(&f.iid, "iid", false, "run the IID track, SP 800-90B Section 5 (permutation, chi-square and LRS tests)")
	fs.BoolVar(&f.json, "json", false, "print the tool's JSON report instead of a table")
	fs.BoolVar(&f.verbose, "verbose", false, "print every intermediate value first, as the tool's -vv (non-IID)")
	fs.BoolVar(&f.conditioned, "conditioned", false, "assess a conditioned sequential dataset: the bitstring only, h' (the tool's -c)")
	fs.BoolVar(&f.truncate, "truncate", false, "assess at most the first 1000000 bits of the bitstring (the tool's -t)")
	fs.IntVar(&f.shuffles, "shuffles", 0, "permutations of the IID permutation tests (default 10000, as the standard asks)")
	fs.IntVar(&f.workers, "workers", 0, "estimators run at once (default: the number of CPUs)")
	fs.BoolVar(&f.restart, "restart", false, "run the restart tests, SP 800-90B Section 3.1.4, on 1000 x 1000 samples")
	fs.Var(&f.hInitial, "h-initial", "`H_I`, the initial entropy estimate in bits per sample, for --restart (default: estimated from FILE)")
	fs.BoolVar(&f.conditioning, "conditioning", false, "compute a conditioning component's output entropy, SP 800-90B Section 3.1.5")
	fs.BoolVar(&f.vetted, "vetted", false, "the conditioning component is vetted (Section 3.1.5.1.1)")
	fs.BoolVar(&f.nonVetted, "non-vetted", false, "the conditioning component is not vetted (Section 3.1.5.2)")
	fs.IntVar(&f.nIn, "n-in", 0, "`N` bits into the conditioning component")
	fs.IntVar(&f.nOut, "n-out", 0, "`N` bits out of the conditioning component")
	fs.IntVar(&f.nw, "nw", 0, "narrowest internal width of the conditioning component, `N` bits")
	fs.Var(&f.hIn, "h-in", "entropy `H` of the n_in input bits")
	fs.Var(&f.hPrime, "h-prime", "`h'`, entropy per bit of the conditioned output (--non-vetted; or give FILE)")
}

// onlyWith returns a usage error if a flag of names was given without the
// mode that uses it.
func (f *assessFlags) onlyWith(mode string, on bool, names ...string) error {
	if on {
		return nil
	}
	for _, n := range names {
		if f.set[n] {
			return usageError("assess: --%s applies to --%s only", n, mode)
		}
	}
	return nil
}

// optionalFloat is a float flag that knows whether it was given.
type optionalFloat struct {
	v   float64
	set bool
}

func (o *optionalFloat) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.FormatFloat(o.v, 'g', -1, 64)
}

func (o *optionalFloat) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%q is not a finite number", s)
	}
	o.v, o.set = v, true
	return nil
}

// runAssess is entropyd assess.
func runAssess(ctx context.Context, s streams, args []string) error {
	var f assessFlags
	fs := quietFlagSet("assess")
	f.register(fs)
	files, err := parseInterspersed(fs, args)
	if isHelp(err) {
		fmt.Fprintf(s.stderr, assessUsage, assess.ReferenceToolVersion, exitRestartSanity, exitRestartValidation)
		writeOptions(s.stderr, fs)
	}
	if err != nil {
		return err
	}
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	switch {
	case len(files) > 1:
		return usageError("assess: one FILE at most, %d given", len(files))
	case f.iid && f.nonIID:
		return usageError("assess: --iid and --non-iid exclude each other")
	case f.bits < 0 || f.bits > 8:
		return usageError("assess: --bits %d not in 1..8", f.bits)
	case f.shuffles < 0 || f.workers < 0:
		return usageError("assess: --shuffles and --workers must not be negative")
	case f.restart && f.conditioning:
		return usageError("assess: --restart and --conditioning exclude each other")
	}
	for _, err := range []error{
		f.onlyWith("restart", f.restart, "h-initial"),
		f.onlyWith("conditioning", f.conditioning, "vetted", "non-vetted", "n-in", "n-out", "nw", "h-in", "h-prime"),
	} {
		if err != nil {
			return err
		}
	}
	name := "-"
	if len(files) == 1 {
		name = files[0]
	}
	info := assess.RunInfo{
		Filename:    name,
		Commandline: strings.Join(append([]string{"entropyd", "assess"}, args...), " "),
		Time:        time.Now(),
		ToolVersion: version(),
	}
	if f.conditioning {
		return assessConditioning(ctx, s, f, files, info)
	}

	raw, err := readInput(name, s.stdin)
	if err != nil {
		return err
	}
	d, err := assess.Prepare(raw, f.bits)
	if err != nil {
		return fmt.Errorf("%s: %w", displayName(name), err) // err says "assess: …"
	}
	for _, w := range d.Warnings {
		msg := strings.TrimPrefix(w.Error(), "assess: ")
		if errors.Is(w, assess.ErrFewSamples) {
			if f.restart {
				continue // Restart reports the size
			}
			msg = fmt.Sprintf("only %d samples: %s, the minimum of SP 800-90B Section 3.1.1", len(raw), msg)
		}
		fmt.Fprintf(s.stderr, "entropyd: warning: %s: %s\n", displayName(name), msg)
	}

	sum := sha256.Sum256(raw)
	info.SHA256 = hex.EncodeToString(sum[:])
	prog := newProgress(s.stderr)
	defer prog.done()
	switch {
	case f.restart:
		return assessRestart(ctx, s, d, f, info, prog)
	case f.iid:
		return assessIID(ctx, s, d, f, info, prog)
	}
	return assessNonIID(ctx, s, d, f, info, prog)
}

// parseInterspersed parses flags that may follow the file name too.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, flagError("assess", fs, err)
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// readInput reads the samples from a file, or standard input for "-".
func readInput(name string, stdin io.Reader) ([]byte, error) {
	if name != "-" {
		raw, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("assess: %w", err)
		}
		return raw, nil
	}
	if isTerminal(stdin) {
		return nil, usageError("assess: no FILE given and standard input is a terminal; pipe samples in or name a file")
	}
	raw, err := io.ReadAll(stdin)
	if err != nil {
		return nil, fmt.Errorf("assess: reading standard input: %w", err)
	}
	return raw, nil
}

func displayName(name string) string {
	if name == "-" {
		return "standard input"
	}
	return name
}

// assessNonIID runs the non-IID track and prints its table or JSON.
func assessNonIID(ctx context.Context, s streams, d *assess.Data, f assessFlags, info assess.RunInfo, prog *progress) error {
	r, err := assess.NonIID(ctx, d, assess.NonIIDOptions{
		Conditioned: f.conditioned,
		Truncate:    f.truncate,
		Workers:     f.workers,
		Progress:    prog.estimators,
	})
	prog.done()
	if err != nil {
		return fmt.Errorf("assess: non-IID track: %w", err)
	}
	if f.verbose {
		if err := r.WriteVerbose(s.stdout); err != nil {
			return err
		}
		fmt.Fprintln(s.stdout)
	}
	if f.json {
		return assess.WriteJSON(s.stdout, r.Report(info))
	}
	return r.WriteTable(s.stdout)
}

// assessIID runs the IID track and prints its summary or JSON.
func assessIID(ctx context.Context, s streams, d *assess.Data, f assessFlags, info assess.RunInfo, prog *progress) error {
	if f.conditioned {
		return usageError("assess: --conditioned applies to the non-IID track")
	}
	r, err := assess.IIDContext(ctx, d, assess.IIDOptions{
		Shuffles:          f.shuffles,
		Workers:           f.workers,
		TruncateBitstring: f.truncate,
		Progress:          prog.shuffles,
	})
	prog.done()
	if err != nil {
		return fmt.Errorf("assess: IID track: %w", err)
	}
	if f.json {
		return assess.WriteJSON(s.stdout, r.Report(info))
	}
	if err := r.WriteTable(s.stdout, d); err != nil || r.Passed() {
		return err
	}
	_, err = fmt.Fprintf(s.stdout, "run entropyd assess --non-iid.\n")
	return err
}
