package p11

import (
	"bytes"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// capped answers C_GenerateRandom like a module whose transport carries at
// most limit bytes: a larger request gets rv.
func capped(limit int, rv uint) func(n int) ([]byte, error) {
	return func(n int) ([]byte, error) {
		if n > limit {
			return nil, pkcs11.Error(rv)
		}
		b := make([]byte, n)
		rand.Read(b)
		return b, nil
	}
}

// sizeCodes are the answers refusesSize takes for a request too large.
var sizeCodes = []uint{pkcs11.CKR_DATA_LEN_RANGE, pkcs11.CKR_ARGUMENTS_BAD, pkcs11.CKR_HOST_MEMORY, pkcs11.CKR_DEVICE_MEMORY}

func TestFakeRequestLimitLearned(t *testing.T) {
	for _, rv := range sizeCodes {
		t.Run(CKRName(rv), func(t *testing.T) {
			f := newFake("", oneToken())
			tok, err := openFake(t, f, Config{TokenLabel: "kmes"}, false)
			require.NoError(t, err)
			defer tok.Close()
			require.Equal(t, MaxChunk, tok.Stats().MaxRequest)
			f.setGen(capped(5000, rv))

			p := make([]byte, 2*MaxChunk)
			require.NoError(t, tok.GenerateRandom(t.Context(), p))
			assert.False(t, bytes.Equal(p[len(p)-zeroTail:], make([]byte, zeroTail)), "the tail of the output is zero")

			// 64, 32, 16 and 8 KiB are refused; 4 KiB works, 32 times.
			_, req := f.stats()
			want := []int{MaxChunk, MaxChunk / 2, MaxChunk / 4, MaxChunk / 8}
			for range 2 * MaxChunk / 4096 {
				want = append(want, 4096)
			}
			assert.Equal(t, want, req)
			st := tok.Stats()
			assert.Equal(t, StateUp, st.State)
			assert.Equal(t, 4096, st.MaxRequest)
			assert.Equal(t, uint64(len(want)), st.Calls)
			assert.Equal(t, uint64(2*MaxChunk), st.Bytes)
			assert.Equal(t, map[string]uint64{CKRName(rv): 4}, st.Errors)
			assert.Empty(t, st.LastError, "a refused size is not a fault")
			assert.Zero(t, st.Reopens)

			// The learned limit holds for the next call, and a smaller
			// request is made as before.
			require.NoError(t, tok.GenerateRandom(t.Context(), make([]byte, 4096+100)))
			require.NoError(t, tok.GenerateRandom(t.Context(), make([]byte, 100)))
			_, req = f.stats()
			assert.Equal(t, []int{4096, 100, 100}, req[len(want):])
			assert.Equal(t, 4096, tok.Stats().MaxRequest)
		})
	}
}

// TestFakeRequestLimitSmallRequest: a refused request that is already
// smaller than the limit drops the limit at once below it.
func TestFakeRequestLimitSmallRequest(t *testing.T) {
	f := newFake("", oneToken())
	tok, err := openFake(t, f, Config{TokenLabel: "kmes"}, false)
	require.NoError(t, err)
	defer tok.Close()
	f.setGen(capped(40, pkcs11.CKR_DATA_LEN_RANGE))
	p := make([]byte, 48) // mixer.SeedLen
	require.NoError(t, tok.GenerateRandom(t.Context(), p))
	_, req := f.stats()
	assert.Equal(t, []int{48, MinRequest, MinRequest}, req)
	assert.Equal(t, MinRequest, tok.Stats().MaxRequest)
}

func TestFakeRequestLimitBelowFloor(t *testing.T) {
	for _, rv := range sizeCodes {
		t.Run(CKRName(rv), func(t *testing.T) {
			f := newFake("", oneToken())
			// A long back-off: the second call must find the token still down.
			tok, err := openFake(t, f, Config{TokenLabel: "kmes", TokenOptions: TokenOptions{BackoffMin: time.Hour}}, false)
			require.NoError(t, err)
			defer tok.Close()
			f.setGen(capped(MinRequest-1, rv))
			p := bytes.Repeat([]byte{1}, 1000)
			err = tok.GenerateRandom(t.Context(), p)
			require.Error(t, err)
			assert.ErrorIs(t, err, pkcs11.Error(rv))
			assert.Contains(t, err.Error(), "refused a request of 32 bytes, the smallest this package makes")
			assert.Equal(t, make([]byte, len(p)), p, "output not wiped")

			_, req := f.stats()
			assert.Equal(t, []int{1000, 500, 250, 125, 62, MinRequest}, req)
			st := tok.Stats()
			assert.Equal(t, StateDown, st.State, "a token that refuses the smallest request is down")
			assert.Equal(t, MinRequest, st.MaxRequest)
			assert.Equal(t, uint64(6), st.Errors[CKRName(rv)])

			// Then it backs off, like after any fault.
			err = tok.GenerateRandom(t.Context(), p)
			assert.ErrorIs(t, err, ErrTokenDown)
			_, again := f.stats()
			assert.Len(t, again, len(req))
		})
	}
}

func TestFakeRequestLimitConfigured(t *testing.T) {
	f := newFake("", oneToken())
	tok, err := openFake(t, f, Config{TokenLabel: "kmes", TokenOptions: TokenOptions{MaxRequest: 1000}}, false)
	require.NoError(t, err)
	defer tok.Close()
	require.NoError(t, tok.GenerateRandom(t.Context(), make([]byte, 2500)))
	_, req := f.stats()
	assert.Equal(t, []int{1000, 1000, 500}, req)
	st := tok.Stats()
	assert.Equal(t, 1000, st.MaxRequest)
	assert.Empty(t, st.Errors)

	// A configured limit is lowered further when the token refuses it.
	f.setGen(capped(600, pkcs11.CKR_DATA_LEN_RANGE))
	require.NoError(t, tok.GenerateRandom(t.Context(), make([]byte, 2500)))
	_, req = f.stats()
	assert.Equal(t, []int{1000, 500, 500, 500, 500, 500}, req[3:])
	assert.Equal(t, 500, tok.Stats().MaxRequest)
}

// TestFakeRequestLimitConcurrent: callers that are refused at once all
// deliver, and the limit ends at the size that works.
func TestFakeRequestLimitConcurrent(t *testing.T) {
	f := newFake("", oneToken())
	tok, err := openFake(t, f, Config{TokenLabel: "kmes", TokenOptions: TokenOptions{MaxSessions: 4}}, false)
	require.NoError(t, err)
	defer tok.Close()
	f.setGen(capped(3000, pkcs11.CKR_HOST_MEMORY))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			errs <- tok.GenerateRandom(t.Context(), make([]byte, MaxChunk))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	st := tok.Stats()
	assert.Equal(t, 2048, st.MaxRequest)
	assert.Equal(t, StateUp, st.State)
	assert.Equal(t, uint64(8*MaxChunk), st.Bytes)
	_, req := f.stats()
	for _, n := range req {
		if n <= 3000 {
			assert.Equal(t, 2048, n)
		}
	}
}

// TestFakeOtherErrorsNotShrunk: codes that do not speak of the request's
// size take the token down as before, without a smaller retry.
func TestFakeOtherErrorsNotShrunk(t *testing.T) {
	f := newFake("", oneToken())
	tok, err := openFake(t, f, Config{TokenLabel: "kmes"}, false)
	require.NoError(t, err)
	defer tok.Close()
	f.setGen(func(int) ([]byte, error) { return nil, pkcs11.Error(pkcs11.CKR_DEVICE_ERROR) })
	err = tok.GenerateRandom(t.Context(), make([]byte, MaxChunk))
	require.True(t, errors.Is(err, ErrTokenDown), "got %v", err)
	_, req := f.stats()
	assert.Equal(t, []int{MaxChunk}, req)
	assert.Equal(t, MaxChunk, tok.Stats().MaxRequest)
}
