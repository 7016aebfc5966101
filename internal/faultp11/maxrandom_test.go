package faultp11

import (
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMaxRandomDirective(t *testing.T) {
	assert.Equal(t, "maxrandom 4096", MaxRandom(4096, 0))
	assert.Equal(t, "maxrandom 100 0x7", MaxRandom(100, pkcs11.CKR_ARGUMENTS_BAD))
}

// TestMaxRandom: requests up to the cap reach SoftHSM, larger ones are
// refused with the chosen code, and the log records both.
func TestMaxRandom(t *testing.T) {
	c := module(t)
	s := session(t, c)
	before, err := ReadLog(env.log)
	require.NoError(t, err)

	set(t, MaxRandom(4096, 0))
	p := random(t, c, s, 4096)
	assert.False(t, allZero(p), "the output at the cap is zero")
	_, err = c.GenerateRandom(s, 4097)
	wantErr(t, "one byte over the cap", err, pkcs11.CKR_DATA_LEN_RANGE)
	_, err = c.GenerateRandom(s, 64<<10)
	wantErr(t, "64 KiB", err, pkcs11.CKR_DATA_LEN_RANGE)
	random(t, c, s, 32)

	// Another code; the cap is not counted down.
	set(t, MaxRandom(100, pkcs11.CKR_DEVICE_MEMORY))
	for range 3 {
		_, err = c.GenerateRandom(s, 101)
		wantErr(t, "over a cap of 100", err, pkcs11.CKR_DEVICE_MEMORY)
	}
	random(t, c, s, 100)

	calls, err := ReadLog(env.log)
	require.NoError(t, err)
	want := []Call{
		{"C_GenerateRandom", 0}, {"C_GenerateRandom", pkcs11.CKR_DATA_LEN_RANGE}, {"C_GenerateRandom", pkcs11.CKR_DATA_LEN_RANGE}, {"C_GenerateRandom", 0},
		{"C_GenerateRandom", pkcs11.CKR_DEVICE_MEMORY}, {"C_GenerateRandom", pkcs11.CKR_DEVICE_MEMORY}, {"C_GenerateRandom", pkcs11.CKR_DEVICE_MEMORY}, {"C_GenerateRandom", 0},
	}
	assert.Equal(t, want, calls[len(before):])

	// Malformed lines are ignored: no cap.
	for _, line := range []string{"maxrandom", "maxrandom 0", "maxrandom -5", "maxrandom 10 0", "maxrandom 1.5", "maxrandom 10 0x21 extra"} {
		set(t, line)
		random(t, c, s, 64<<10)
	}
}
