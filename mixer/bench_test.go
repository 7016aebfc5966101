package mixer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The benchmarks of this file run side by side in one go test -bench run:
// the Mixer (BenchmarkRead, BenchmarkReadParallel32) against its anchors,
// crypto/rand.Read (BenchmarkCryptoRand) and raw AES-256-CTR keystream
// from crypto/cipher (BenchmarkAES256CTR).

var mxBenchSizes = []struct {
	name string
	n    int
}{{"32B", 32}, {"4KiB", 4 << 10}, {"1MiB", 1 << 20}}

// mxFastPrimary is a fast stand-in primary source: AES-256-CTR keystream
// under a fixed key. (The Mixer serializes its calls.)
type mxFastPrimary struct{ s cipher.Stream }

func newMXFastPrimary(tb testing.TB) *mxFastPrimary {
	block, err := aes.NewCipher(make([]byte, KeyLen))
	require.NoError(tb, err)
	return &mxFastPrimary{cipher.NewCTR(block, make([]byte, BlockLen))}
}

func (f *mxFastPrimary) Read(p []byte) (int, error) {
	clear(p)
	f.s.XORKeyStream(p, p)
	return len(p), nil
}

func newBenchMixer(b *testing.B) *Mixer {
	return newTestMixer(b, Config{Primary: newMXFastPrimary(b)})
}

func BenchmarkRead(b *testing.B) {
	for _, s := range mxBenchSizes {
		b.Run(s.name, func(b *testing.B) {
			m := newBenchMixer(b)
			p := make([]byte, s.n)
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Read(p); err != nil {
					require.NoError(b, err)
				}
			}
		})
	}
}

func BenchmarkReadParallel32(b *testing.B) {
	m := newBenchMixer(b)
	b.SetBytes(32)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var p [32]byte
		for pb.Next() {
			if _, err := m.Read(p[:]); err != nil {
				assert.NoError(b, err) // assert, not require: not the benchmark's goroutine
				return
			}
		}
	})
}

func BenchmarkCryptoRand(b *testing.B) {
	for _, s := range mxBenchSizes {
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

func BenchmarkAES256CTR(b *testing.B) {
	for _, s := range mxBenchSizes {
		b.Run(s.name, func(b *testing.B) {
			f := newMXFastPrimary(b)
			p := make([]byte, s.n)
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				f.s.XORKeyStream(p, p)
			}
		})
	}
}
