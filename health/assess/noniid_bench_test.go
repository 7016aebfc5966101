package assess

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// benchSamples is the sample count of the benchmarks: SP 800-90B's minimum.
const benchSamples = MinSamples

func BenchmarkMostCommonValue(b *testing.B) {
	s := noisy(benchSamples, 8)
	b.SetBytes(benchSamples)
	for b.Loop() {
		MostCommonValue(s, 256)
	}
}

func BenchmarkCollision(b *testing.B) {
	s := noisy(benchSamples, 1)
	b.SetBytes(benchSamples)
	for b.Loop() {
		Collision(s)
	}
}

func BenchmarkMarkov(b *testing.B) {
	s := noisy(benchSamples, 1)
	b.SetBytes(benchSamples)
	for b.Loop() {
		Markov(s)
	}
}

func BenchmarkCompression(b *testing.B) {
	s := noisy(benchSamples, 1)
	b.SetBytes(benchSamples)
	for b.Loop() {
		Compression(s)
	}
}

func BenchmarkPrepare8bit(b *testing.B) {
	s := noisy(benchSamples, 8)
	b.SetBytes(benchSamples)
	for b.Loop() {
		_, err := Prepare(s, 0)
		require.NoError(b, err)
	}
}

// The whole non-IID track on NIST's 1,000,000-sample files, on one core
// and on all.
func BenchmarkNonIID8bit(b *testing.B) { benchNonIID(b, "truerand_8bit") }
func BenchmarkNonIID1bit(b *testing.B) { benchNonIID(b, "truerand_1bit") }

func benchNonIID(b *testing.B, name string) {
	raw, err := os.ReadFile(filepath.Join(sp90bDir(b), name+".bin"))
	require.NoError(b, err)
	d, err := Prepare(raw, 0)
	require.NoError(b, err)
	for _, w := range []struct {
		name    string
		workers int
	}{{"1core", 1}, {"allcores", 0}} {
		b.Run(w.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				_, err := NonIID(b.Context(), d, NonIIDOptions{Workers: w.workers})
				require.NoError(b, err)
			}
		})
	}
}
