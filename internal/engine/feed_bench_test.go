package engine

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// feedBytes is entropyd's default feed: 64 bytes.
const feedBytes = 64

// randSource is a Source reading crypto/rand.
type randSource struct{}

func (randSource) Name() string { return "rand" }
func (randSource) Open(context.Context) (io.ReadCloser, error) {
	return io.NopCloser(rand.Reader), nil
}

// BenchmarkCryptoRand is the anchor: 64 bytes from crypto/rand.
func BenchmarkCryptoRand(b *testing.B) {
	buf := make([]byte, feedBytes)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		rand.Read(buf)
	}
}

// BenchmarkFeed is one dry-run feed of 64 bytes: a prediction-resistant
// reseed from a source read from crypto/rand through its health tests and
// ring, and the OS source.
func BenchmarkFeed(b *testing.B) {
	e, err := New(Config{
		Sources:   []Spec{{Source: randSource{}, Chunk: 4096}},
		FeedBytes: feedBytes, CreditBits: 6, FeedInterval: time.Hour,
		StartupTimeout: time.Minute, SourceTimeout: 10 * time.Second,
		Log: slog.New(slog.DiscardHandler),
	})
	require.NoError(b, err)
	e.Start(b.Context())
	defer e.Stop()
	require.NoError(b, e.Begin(b.Context()))
	b.SetBytes(feedBytes)
	for b.Loop() {
		if err := e.feed("bench"); err != nil {
			require.NoError(b, err)
		}
	}
}
