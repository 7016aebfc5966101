package mixer

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadPRWithFailsWhateverTheHook: the zero Seeding never falls back to
// the OS, although Config.OnPrimaryError would: the read fails, p is
// zeroed, the hook is not asked and nothing is counted as OS-only.
func TestReadPRWithFailsWhateverTheHook(t *testing.T) {
	primary := newMXSource("P", nil)
	hookCalls := 0
	m := newTestMixer(t, Config{Primary: primary, Shards: 1, OnPrimaryError: func(error) Decision {
		hookCalls++
		return ContinueOSOnly
	}})
	primary.setFailures(-1)
	p := bytes.Repeat([]byte{0xAA}, 100)
	osOnly, err := m.ReadPRWith(p, Seeding{})
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrPrimary)
	assert.ErrorIs(t, err, errMxPrimaryDown)
	assert.Zero(t, osOnly)
	assert.Equal(t, make([]byte, 100), p, "p not zeroed")
	assert.Zero(t, hookCalls, "Config.OnPrimaryError was asked")
	st := m.Stats()
	assert.Zero(t, st.OSOnlySeeds)
	assert.Zero(t, st.DegradedShards)
	assert.Equal(t, uint64(1), st.ReadErrors)

	// ReadPR on the same Mixer follows the hook.
	_, err = m.ReadPR(p)
	require.NoError(t, err)
	assert.Equal(t, 1, hookCalls)
	assert.Equal(t, uint64(1), m.Stats().OSOnlySeeds)
}

// TestReadPRWithCountsOSOnly: with OnError choosing ContinueOSOnly, the
// call succeeds and reports each OS-only reseed, one per request.
func TestReadPRWithCountsOSOnly(t *testing.T) {
	primary := newMXSource("P", nil)
	m := newTestMixer(t, Config{Primary: primary, Shards: 1})
	in := Seeding{OnError: func(error) Decision { return ContinueOSOnly }}

	osOnly, err := m.ReadPRWith(make([]byte, 2*MaxRequest+1), in)
	require.NoError(t, err)
	assert.Zero(t, osOnly, "the primary works")

	primary.setFailures(-1)
	osOnly, err = m.ReadPRWith(make([]byte, 2*MaxRequest+1), in)
	require.NoError(t, err)
	assert.Equal(t, 3, osOnly, "three requests, each after an OS-only reseed")
	st := m.Stats()
	assert.Equal(t, uint64(3), st.OSOnlySeeds)
	assert.Equal(t, 1, st.DegradedShards)
}

// TestReadPRWithEntropy: Seeding.Entropy stands in for the primary: each
// request's reseed takes SeedLen bytes of it, the primary is not read, a
// reseed from it ends a degraded spell, and a failure of it fails the read
// (the CAVP pr_true vectors check the values; see TestMixerCAVPVectors).
func TestReadPRWithEntropy(t *testing.T) {
	primary, given := newMXSource("P", nil), newMXSource("E", nil)
	m := newTestMixer(t, Config{Primary: primary, Shards: 1, OnPrimaryError: func(error) Decision { return ContinueOSOnly }})
	primary.setFailures(-1) // degrade the shard: ReadPR follows the hook
	_, err := m.ReadPR(make([]byte, 32))
	require.NoError(t, err)
	require.Equal(t, 1, m.Stats().DegradedShards)
	pCalls, _ := primary.stats()

	osOnly, err := m.ReadPRWith(make([]byte, MaxRequest+1), Seeding{Entropy: given})
	require.NoError(t, err)
	assert.Zero(t, osOnly)
	_, consumed := given.stats()
	assert.Equal(t, uint64(2*SeedLen), consumed, "one SeedLen per request")
	calls, _ := primary.stats()
	assert.Equal(t, pCalls, calls, "the primary was read")
	assert.Zero(t, m.Stats().DegradedShards, "a reseed from the given entropy leaves the shard degraded")

	given.setFailures(1)
	p := bytes.Repeat([]byte{1}, 32)
	_, err = m.ReadPRWith(p, Seeding{Entropy: given})
	assert.True(t, errors.Is(err, ErrPrimary) && errors.Is(err, errMxPrimaryDown), "error %v", err)
	assert.Equal(t, make([]byte, 32), p)

	m.Close()
	_, err = m.ReadPRWith(p, Seeding{Entropy: given})
	assert.ErrorIs(t, err, ErrClosed)
}
