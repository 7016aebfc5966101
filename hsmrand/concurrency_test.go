package hsmrand

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/hsmentropy/hsmentropy/mixer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readSizes returns every size from 0 to 4096, the sizes around the
// mixer's buffer and request boundaries, 1 MiB, and 128 sizes drawn up to
// 1 MiB: every size from 0 to 1 MiB would be 550 GB of reads.
func readSizes() []int {
	var sizes []int
	for n := 0; n <= 4096; n++ {
		sizes = append(sizes, n)
	}
	for _, b := range []int{mixer.DefaultBufferSize, mixer.MaxRequest, 2 * mixer.MaxRequest} {
		sizes = append(sizes, b-1, b, b+1)
	}
	sizes = append(sizes, 1<<20-1, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 128 {
		sizes = append(sizes, 1+rng.IntN(1<<20))
	}
	return sizes
}

// TestSoftHSMConcurrentReads: 64 goroutines read every size of readSizes
// (and call GetRandom, which draws on the HSM buffer, between reads) from
// one SoftHSM-backed Reader, while another goroutine reads Stats; run it
// with -race. Every read returns all its bytes, and no two reads of 16
// bytes or more begin with the same 16 bytes.
func TestSoftHSMConcurrentReads(t *testing.T) {
	r := openSoftHSM(t, Options{HSMBuffer: MinHSMBuffer, Reseed: ReseedPolicy{Calls: 8}})
	sizes := readSizes()
	const workers = 64
	heads := make([][][16]byte, workers)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				r.Stats()
			}
		}
	}()
	for w := range workers {
		wg.Go(func() {
			buf := make([]byte, 1<<20)
			for i := w; i < len(sizes); i += workers {
				p := buf[:sizes[i]]
				n, err := r.Read(p)
				// assert, not require: not the test's goroutine.
				if !assert.NoError(t, err, "Read(%d)", len(p)) || !assert.Equal(t, len(p), n, "Read(%d)", len(p)) {
					return
				}
				if len(p) >= 16 {
					heads[w] = append(heads[w], [16]byte(p))
				}
				if (i/workers)%16 == 0 {
					g, err := r.GetRandom(32)
					if !assert.NoError(t, err, "GetRandom") {
						return
					}
					heads[w] = append(heads[w], [16]byte(g))
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	all := slices.Concat(heads...)
	slices.SortFunc(all, func(a, b [16]byte) int { return slices.Compare(a[:], b[:]) })
	for i := 1; i < len(all); i++ {
		require.NotEqual(t, all[i-1], all[i], "two reads began with the same 16 bytes")
	}
	st := r.Stats()
	t.Logf("%d reads, %d bytes, %d HSM calls, %d reseeds, %d distinct heads", st.Reads, st.BytesServed, st.HSMCalls, st.Reseeds, len(all))
	assert.Zero(t, st.ReadErrors, "read errors")
	assert.Equal(t, StateHealthy, st.State)
}

// TestSoftHSMNoRepeatedOutputs: 10 million reads of 32 bytes from 8
// goroutines, no two alike. The test keeps the first 8 bytes of each read
// (80 MB) and fails on any two equal: for 10^7 independent uniform values
// a false alarm has probability about (10^7)^2 / 2^65 = 2.7e-6. Under the
// race detector too (make test, about 12 s on 2 cores); under -short it
// makes 250,000.
func TestSoftHSMNoRepeatedOutputs(t *testing.T) {
	r := openSoftHSM(t, Options{})
	total := 10_000_000
	if testing.Short() {
		total = 250_000
	}
	const workers = 8
	heads := make([]uint64, total)
	per := total / workers
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var p [32]byte
			for i := w * per; i < (w+1)*per; i++ {
				if _, err := r.Read(p[:]); err != nil {
					assert.NoError(t, err) // not require: not the test's goroutine
					return
				}
				heads[i] = binary.LittleEndian.Uint64(p[:])
			}
		})
	}
	wg.Wait()
	slices.Sort(heads)
	for i := 1; i < len(heads); i++ {
		if heads[i] == heads[i-1] { // tested first: ten million calls of require would slow the test
			require.NotEqual(t, heads[i-1], heads[i], "two of %d reads of 32 bytes begin with the same 8 bytes %#x", total, heads[i])
		}
	}

	t.Logf("%d reads of 32 bytes, all distinct; %d HSM calls", total, r.Stats().HSMCalls)
}
