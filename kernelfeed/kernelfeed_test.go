package kernelfeed

import (
	"math"
	"strings"
	"testing"
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
		if got := Credit(tc.n, tc.bpb); got != tc.want {
			t.Errorf("Credit(%d, %v) = %d, want %d", tc.n, tc.bpb, got, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, bpb := range []float64{-0.1, 8.01, math.NaN(), math.Inf(1)} {
		err := Config{BitsPerByte: bpb}.validate()
		if err == nil || !strings.Contains(err.Error(), "BitsPerByte") {
			t.Errorf("BitsPerByte %v: got %v, want an error naming BitsPerByte", bpb, err)
		}
	}
	for _, bpb := range []float64{0, 0.5, 8} {
		if err := (Config{BitsPerByte: bpb}).validate(); err != nil {
			t.Errorf("BitsPerByte %v: %v", bpb, err)
		}
	}
	if got := (Config{}).device(); got != DefaultDevice {
		t.Errorf("default device %q, want %q", got, DefaultDevice)
	}
}
