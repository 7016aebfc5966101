package health

import (
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

// blockSize is the size of one HSM read: the tester must keep up with it.
const blockSize = 64 << 10

// BenchmarkTester8bit measures Tester.Test on 64 KiB of 8-bit samples with
// DefaultHSMConfig, to compare with BenchmarkCryptoRandRead in the same run:
// the issue asks for at least 1 GB/s and 0 allocs/op.
func BenchmarkTester8bit(b *testing.B) {
	block := make([]byte, blockSize)
	rand.Read(block)
	tr, err := NewTester(DefaultHSMConfig())
	require.NoError(b, err)
	b.SetBytes(blockSize)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.Test(block); err != nil {
			require.NoError(b, err)
		}
	}
}

// BenchmarkTester1bit measures the per-sample path for samples narrower
// than a byte, for information.
func BenchmarkTester1bit(b *testing.B) {
	block := make([]byte, blockSize)
	rand.Read(block)
	for i := range block {
		block[i] &= 1
	}
	tr, err := NewTester(Config{MinEntropy: 1, BitsPerSample: 1})
	require.NoError(b, err)
	b.SetBytes(blockSize)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.Test(block); err != nil {
			require.NoError(b, err)
		}
	}
}

// BenchmarkCryptoRandRead is the yardstick: crypto/rand.Read of 64 KiB.
func BenchmarkCryptoRandRead(b *testing.B) {
	block := make([]byte, blockSize)
	b.SetBytes(blockSize)
	b.ReportAllocs()
	for b.Loop() {
		rand.Read(block)
	}
}
