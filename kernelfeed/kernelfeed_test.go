package kernelfeed

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCredit(t *testing.T) {
	for _, tc := range []struct {
		n    int
		bpb  float64
		want int
	}{
		{0, 8, 0},
		{-1, 8, 0},
		{100, 0, 0},
		{100, math.NaN(), 0},
		{100, -1, 0},
		{100, 1, 100},
		{100, 0.5, 50},
		{3, 0.5, 1}, // rounded down
		{100, 8, 800},
		{100, 9, 800}, // never more than 8 bits per byte
		{100, math.Inf(1), 800},
		{MaxChunk, 8, 8 * MaxChunk},
	} {
		assert.Equal(t, tc.want, Credit(tc.n, tc.bpb), "Credit(%d, %v)", tc.n, tc.bpb)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, bpb := range []float64{-0.1, 8.01, math.NaN(), math.Inf(1)} {
		err := Config{BitsPerByte: bpb}.validate()
		assert.ErrorContains(t, err, "BitsPerByte", "BitsPerByte %v: want an error naming BitsPerByte", bpb)
	}
	for _, bpb := range []float64{0, 0.5, 8} {
		assert.NoError(t, Config{BitsPerByte: bpb}.validate(), "BitsPerByte %v", bpb)
	}
	assert.Equal(t, DefaultDevice, Config{}.device(), "default device")
}
