package assess

import (
	"context"
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"sync"
)

// Constants of the permutation testing procedure, per SP 800-90B Section 5.1.
const (
	// DefaultShuffles is the number of shuffles the standard prescribes.
	DefaultShuffles = 10000
	// permDecided is the count past which a statistic is decided: once more
	// than permDecided shuffled values were at least the original
	// (C0 + C1) and more than permDecided at most it (C1 + C2), the
	// original is not in either tail; the tool then stops computing it.
	permDecided = 5
)

// PermutationStatistic is one statistic of the permutation tests.
type PermutationStatistic struct {
	// Name is the statistic as the tool's JSON names it ("periodicity8").
	Name string `json:"name"`
	// Value is the statistic on the unshuffled samples.
	Value float64 `json:"value"`
	// Greater, Equal and Less count the shuffles whose statistic was
	// greater than, equal to and less than Value (the tool's C[i][0..2]),
	// up to the shuffle that decided the statistic.
	Greater int `json:"greater"`
	Equal   int `json:"equal"`
	Less    int `json:"less"`
	// Passed is true unless Value ranked in the top or bottom 0.05% of the
	// shuffles: Greater+Equal > 5 and Equal+Less > 5.
	Passed bool `json:"passed"`
}

// PermutationResult is the outcome of the permutation tests.
type PermutationResult struct {
	// Statistics holds the 19 statistics in the tool's order.
	Statistics [permStats]PermutationStatistic `json:"statistics"`
	// Shuffles is the number of shuffles counted: fewer than requested when
	// every statistic was decided early.
	Shuffles int `json:"shuffles"`
	// Passed is true when every statistic passed.
	Passed bool `json:"passed"`
}

// permRun is one run of the permutation tests over a prepared source.
type permRun struct {
	src      *permSource
	shuffles int
	workers  int
	seed     [32]byte
	progress func(done, total int)
}

// permWorker holds one goroutine's buffers.
type permWorker struct {
	buf     []byte
	packed  []byte // binary data: a shuffle, packed (bitShuffle)
	rng     *rand.ChaCha8
	rand    [512]byte
	randPos int
	scratch permScratch
	t       [permStats]float64
}

// run performs the tests, per SP 800-90B Section 5.1: the statistics on the
// samples, then on up to r.shuffles shuffles of them, counting for each
// statistic how the shuffled values compare with the original and stopping
// a statistic once it is decided (as NIST's tool does). A shuffle is a
// uniformly random permutation of the samples: Fisher–Yates, or for binary
// data the packed shuffle of bitShuffle, which chooses where the ones go
// without moving samples.
//
// The counts depend only on the seed, not on the number of workers: shuffle
// i starts from the original order with a generator seeded from (seed, i),
// and the shuffles are counted in order of i.
func (r *permRun) run(ctx context.Context) (PermutationResult, error) {
	res, err := r.runAll(ctx, []*permSource{r.src})
	return res[0], err
}

// runAll runs the tests on several sources that hold the same samples in
// different orders, with the same symbol numbering (a restart matrix's rows
// and columns): a shuffle of one is distributed as a shuffle of any other,
// so each shuffle of r.src is counted against every source's original, and
// is computed once for all. Each source's test is the procedure of run; the
// tests share their shuffles.
func (r *permRun) runAll(ctx context.Context, srcs []*permSource) ([]PermutationResult, error) {
	res := make([]PermutationResult, len(srcs))
	src := r.src

	// Step 1. The statistics on the original samples.
	all := [permStats]bool{}
	for i := range all {
		all[i] = true
	}
	var w0 permWorker
	orig := make([][permStats]float64, len(srcs))
	undecided := make([][permStats]bool, len(srcs))
	open := 0
	for k, sk := range srcs {
		sk.statistics(sk.symbols, &all, &orig[k], &w0.scratch)
		for i := range res[k].Statistics {
			res[k].Statistics[i].Name = permStatName(i)
			res[k].Statistics[i].Value = orig[k][i]
		}
		undecided[k] = all
		open += permStats
	}

	// Step 2. Shuffle, recompute, count, in rounds of one shuffle per worker.
	workers := make([]*permWorker, r.workers)
	workers[0] = &w0
	for i := 1; i < len(workers); i++ {
		workers[i] = &permWorker{}
	}
	for _, w := range workers {
		w.buf = make([]byte, len(src.symbols))
		w.rng = rand.NewChaCha8(r.seed)
	}
	var bs *bitShuffle
	if src.binary {
		bs = newBitShuffle(src.symbols)
	}
	var wg sync.WaitGroup
	for base := 0; base < r.shuffles && open > 0; base += len(workers) {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		batch := min(len(workers), r.shuffles-base)
		var want [permStats]bool
		for k := range srcs {
			for i := range want {
				want[i] = want[i] || undecided[k][i]
			}
		}
		for j := range batch {
			wg.Go(func() {
				w := workers[j]
				if bs != nil {
					r.seedShuffle(w, base+j)
					src.packedStatistics(bs, bs.shuffle(w), &want, w)
					return
				}
				r.shuffle(w, base+j)
				src.statistics(w.buf, &want, &w.t, &w.scratch)
			})
		}
		wg.Wait()
		for j := range batch {
			for k := range srcs {
				open -= res[k].count(workers[j].t, orig[k], &undecided[k])
			}
		}
		if r.progress != nil {
			r.progress(base+batch, r.shuffles)
		}
	}

	// Step 3. A statistic fails when the original ranks in either tail.
	for k := range res {
		res[k].Passed = true
		for i := range res[k].Statistics {
			st := &res[k].Statistics[i]
			st.Passed = st.Greater+st.Equal > permDecided && st.Equal+st.Less > permDecided
			res[k].Passed = res[k].Passed && st.Passed
		}
	}
	return res, nil
}

// count counts one shuffle's statistics t against the originals orig, for
// the statistics still undecided, unless every one is decided; it returns
// how many it decided.
func (p *PermutationResult) count(t, orig [permStats]float64, undecided *[permStats]bool) int {
	if !anyOf(undecided[:]) {
		return 0
	}
	p.Shuffles++
	decided := 0
	for i := range undecided {
		if !undecided[i] {
			continue
		}
		st := &p.Statistics[i]
		switch tp := t[i]; {
		case tp > orig[i]:
			st.Greater++
		case tp == orig[i]:
			st.Equal++
		default:
			st.Less++
		}
		if st.Greater+st.Equal > permDecided && st.Equal+st.Less > permDecided {
			undecided[i] = false
			decided++
		}
	}
	return decided
}

// shuffle puts into w.buf the i-th shuffle of the samples: the original
// order, shuffled by Fisher–Yates with a generator seeded from (seed, i).
func (r *permRun) shuffle(w *permWorker, i int) {
	r.seedShuffle(w, i)
	s := w.buf
	copy(s, r.src.symbols)
	for k := len(s) - 1; k > 0; k-- {
		j := w.below(uint32(k + 1))
		s[k], s[j] = s[j], s[k]
	}
}

// seedShuffle seeds w's generator for the i-th shuffle, from (seed, i).
func (r *permRun) seedShuffle(w *permWorker, i int) {
	seed := r.seed
	binary.LittleEndian.PutUint64(seed[24:], binary.LittleEndian.Uint64(seed[24:])^uint64(i))
	w.rng.Seed(seed)
	w.randPos = len(w.rand)
}

// below returns a uniform random integer in [0, n), by Lemire's
// multiply-and-reject method on 32-bit draws.
func (w *permWorker) below(n uint32) uint32 {
	hi, lo := bits.Mul32(w.next32(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul32(w.next32(), n)
		}
	}
	return hi
}

func (w *permWorker) next32() uint32 {
	if w.randPos+4 > len(w.rand) {
		_, _ = w.rng.Read(w.rand[:]) // ChaCha8.Read never fails
		w.randPos = 0
	}
	v := binary.LittleEndian.Uint32(w.rand[w.randPos:])
	w.randPos += 4
	return v
}
