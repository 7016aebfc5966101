package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rowSource is an opener that counts its openings and closings: opening i
// gives the byte i repeated, and an opening must be closed before the next.
type rowSource struct {
	opens, closes int
	empty         map[int]bool // openings that end at once
}

func (s *rowSource) open(context.Context) (io.ReadCloser, error) {
	if s.opens != s.closes {
		return nil, errors.New("opened again before closing")
	}
	i := s.opens
	s.opens++
	var r io.Reader = bytes.NewReader(nil)
	if !s.empty[i] {
		r = iotest.OneByteReader(bytes.NewReader(bytes.Repeat([]byte{byte(i)}, 1000)))
	}
	return closeCounter{r, s}, nil
}

type closeCounter struct {
	io.Reader
	s *rowSource
}

func (c closeCounter) Close() error { c.s.closes++; return nil }

// TestRecordReopens checks that every restart reads from its own opening
// of the source, closed before the next, in order, in the layout assess
// --restart reads; and that an opening that ends at once (a FIFO whose
// last writer is closing) is retried, a bounded number of times.
func TestRecordReopens(t *testing.T) {
	const rows, perRow = 12, 100
	src := &rowSource{empty: map[int]bool{3: true}}
	var out bytes.Buffer
	require.NoError(t, Record(t.Context(), src.open, &out, rows, perRow))
	assert.Equal(t, rows+1, src.opens)
	assert.Equal(t, src.opens, src.closes)
	got := out.Bytes()
	require.Len(t, got, rows*perRow)
	for r := range rows {
		want := r
		if r >= 3 {
			want = r + 1 // opening 3 was empty and retried
		}
		assert.Equal(t, bytes.Repeat([]byte{byte(want)}, perRow), got[r*perRow:(r+1)*perRow], "row %d", r)
	}

	src = &rowSource{empty: map[int]bool{0: true, 1: true, 2: true}}
	err := Record(t.Context(), src.open, io.Discard, 2, perRow)
	assert.ErrorContains(t, err, "restart 1 of 2: source ended 3 times without a sample")
}

// TestRawOpenerNames checks the names RawOpener knows and that it refuses
// others.
func TestRawOpenerNames(t *testing.T) {
	for _, name := range []string{OSName, HwrngName, "file:/x"} {
		o, err := RawOpener(name, "/dev/hwrng")
		require.NoError(t, err, name)
		assert.NotNil(t, o, name)
	}
	_, err := RawOpener("tpm", "/dev/hwrng")
	assert.ErrorContains(t, err, `"tpm" is not hwrng, os or file:PATH`)
}
