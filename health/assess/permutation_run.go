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
	rng     *rand.ChaCha8
	rand    [512]byte
	randPos int
	scratch permScratch
	t       [permStats]float64
}

// run performs the tests, per SP 800-90B Section 5.1: the statistics on the
// samples, then on up to r.shuffles Fisher–Yates shuffles of them, counting
// for each statistic how the shuffled values compare with the original and
// stopping a statistic once it is decided (as NIST's tool does).
//
// The counts depend only on the seed, not on the number of workers: shuffle
// i starts from the original order with a generator seeded from (seed, i),
// and the shuffles are counted in order of i.
func (r *permRun) run(ctx context.Context) (PermutationResult, error) {
	var res PermutationResult
	src := r.src

	// Step 1. The statistics on the original samples.
	all := [permStats]bool{}
	for i := range all {
		all[i] = true
	}
	var w0 permWorker
	var orig [permStats]float64
	src.statistics(src.symbols, &all, &orig, &w0.scratch)
	for i := range res.Statistics {
		res.Statistics[i].Name = permStatName(i)
		res.Statistics[i].Value = orig[i]
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
	undecided := all
	open := permStats
	var wg sync.WaitGroup
	for base := 0; base < r.shuffles && open > 0; base += len(workers) {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		batch := min(len(workers), r.shuffles-base)
		want := undecided
		for j := range batch {
			wg.Go(func() {
				w := workers[j]
				r.shuffle(w, base+j)
				src.statistics(w.buf, &want, &w.t, &w.scratch)
			})
		}
		wg.Wait()
		for j := range batch {
			if open == 0 {
				break
			}
			res.Shuffles++
			for i := range undecided {
				if !undecided[i] {
					continue
				}
				st := &res.Statistics[i]
				switch tp := workers[j].t[i]; {
				case tp > orig[i]:
					st.Greater++
				case tp == orig[i]:
					st.Equal++
				default:
					st.Less++
				}
				if st.Greater+st.Equal > permDecided && st.Equal+st.Less > permDecided {
					undecided[i] = false
					open--
				}
			}
		}
		if r.progress != nil {
			r.progress(base+batch, r.shuffles)
		}
	}

	// Step 3. A statistic fails when the original ranks in either tail.
	res.Passed = true
	for i := range res.Statistics {
		st := &res.Statistics[i]
		st.Passed = st.Greater+st.Equal > permDecided && st.Equal+st.Less > permDecided
		res.Passed = res.Passed && st.Passed
	}
	return res, nil
}

// shuffle puts into w.buf the i-th shuffle of the samples: the original
// order, shuffled by Fisher–Yates with a generator seeded from (seed, i).
func (r *permRun) shuffle(w *permWorker, i int) {
	seed := r.seed
	binary.LittleEndian.PutUint64(seed[24:], binary.LittleEndian.Uint64(seed[24:])^uint64(i))
	w.rng.Seed(seed)
	w.randPos = len(w.rand)
	s := w.buf
	copy(s, r.src.symbols)
	for k := len(s) - 1; k > 0; k-- {
		j := w.below(uint32(k + 1))
		s[k], s[j] = s[j], s[k]
	}
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
