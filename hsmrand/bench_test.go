package hsmrand

import (
	"crypto/rand"
	"io"
	mrand "math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/internal/faultp11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The benchmarks of this file run side by side in one go test -bench run:
// the Reader with SoftHSM behind it (BenchmarkRead, BenchmarkGetRandom32,
// which also runs through the fault module with 20 ms per call) against
// crypto/rand.Read (BenchmarkCryptoRand), and the Reader over a primary
// that takes 20 ms per call (BenchmarkSlowPrimaryRead32). In the timed
// loops an error is tested before require is called, so that no testify
// call is timed.

var benchSizes = []struct {
	name string
	n    int
}{{"32", 32}, {"1MiB", 1 << 20}}

// reportHSM reports the HSM calls and the HSM bytes used per GiB served
// during the benchmark.
func reportHSM(b *testing.B, r *Reader, before Stats) {
	after := r.Stats()
	gib := float64(after.BytesServed-before.BytesServed) / (1 << 30)
	if gib == 0 {
		return
	}
	b.ReportMetric(float64(after.HSMCalls-before.HSMCalls)/gib, "hsm-calls/GiB")
	b.ReportMetric(float64(after.HSMUsed-before.HSMUsed)/gib, "hsm-bytes/GiB")
}

func BenchmarkRead(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			r := openSoftHSM(b, Options{})
			p := make([]byte, s.n)
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			before := r.Stats()
			for b.Loop() {
				if _, err := r.Read(p); err != nil {
					require.NoError(b, err)
				}
			}
			reportHSM(b, r, before)
		})
	}
}

func BenchmarkCryptoRand(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			p := make([]byte, s.n)
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				rand.Read(p)
			}
		})
	}
}

// BenchmarkReadParallel32 reads 32 bytes from every P at once.
func BenchmarkReadParallel32(b *testing.B) {
	r := openSoftHSM(b, Options{})
	b.SetBytes(32)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		p := make([]byte, 32)
		for pb.Next() {
			if _, err := r.Read(p); err != nil {
				assert.NoError(b, err) // not require: RunParallel's goroutine
				return
			}
		}
	})
}

// BenchmarkGetRandom32: prediction resistance, a reseed from 48 HSM bytes
// per call, taken from the buffer (buffered) or drawn by the call itself
// (live, Options.LiveGetRandom), with SoftHSM as the token and with the
// same token behind the fault module taking 20 ms per C_GenerateRandom
// (token-20ms), as a network HSM might. It reports the token's
// C_GenerateRandom calls per GetRandom (token-calls/op).
func BenchmarkGetRandom32(b *testing.B) {
	for _, tok := range []string{"softhsm", "token-20ms"} {
		for _, live := range []bool{false, true} {
			name := tok + "/buffered"
			if live {
				name = tok + "/live"
			}
			b.Run(name, func(b *testing.B) {
				opts := Options{LiveGetRandom: live}
				var r *Reader
				if tok == "softhsm" {
					r = openSoftHSM(b, opts)
				} else {
					var ctl *faultp11.Control
					r, ctl = openFaulty(b, opts)
					require.NoError(b, ctl.Set(faultp11.Delay("C_GenerateRandom", slowPrimaryDelay)))
				}
				b.SetBytes(32)
				b.ReportAllocs()
				before := r.Stats()
				for b.Loop() {
					if _, err := r.GetRandom(32); err != nil {
						require.NoError(b, err)
					}
				}
				after := r.Stats()
				b.ReportMetric(float64(after.Tokens[0].Calls-before.Tokens[0].Calls)/float64(b.N), "token-calls/op")
				reportHSM(b, r, before)
			})
		}
	}
}

// slowPrimary is an HSM that takes 20 ms per request, as a network HSM
// under load might.
type slowPrimary struct{ rng *mrand.ChaCha8 }

const slowPrimaryDelay = 20 * time.Millisecond

func (s slowPrimary) Read(p []byte) (int, error) {
	time.Sleep(slowPrimaryDelay)
	return s.rng.Read(p)
}

var _ io.Reader = slowPrimary{}

// BenchmarkSlowPrimaryRead32 times each 32-byte Read from a Reader over a
// primary that takes 20 ms per call, with shards reseeding every 64 KiB
// (every 2,048 reads) so that reseeds keep drawing on the HSM buffer while
// the refiller waits on the primary. It reports the 99.9th percentile of
// the Read latency (p99.9-ns; the goal is under 20 µs: no Read waits on
// the primary) and the reseeds made.
func BenchmarkSlowPrimaryRead32(b *testing.B) {
	r, err := New(slowPrimary{mrand.NewChaCha8([32]byte{1})}, Options{Reseed: ReseedPolicy{Bytes: 64 << 10}})
	require.NoError(b, err)
	defer r.Close()
	lat := make([]time.Duration, b.N)
	p := make([]byte, 32)
	before := r.Stats()
	b.SetBytes(32)
	b.ResetTimer()
	for i := range lat {
		start := time.Now()
		if _, err := r.Read(p); err != nil {
			require.NoError(b, err)
		}
		lat[i] = time.Since(start)

	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*999/1000].Nanoseconds()), "p99.9-ns")
	b.ReportMetric(float64(lat[len(lat)-1].Nanoseconds()), "max-ns")
	b.ReportMetric(float64(r.Stats().Reseeds-before.Reseeds), "reseeds")
}
