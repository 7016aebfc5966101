package refill

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hsmentropy/hsmentropy/health"
)

// Check maps the tester's results onto the Verdicts: a start-up test that
// ends inside a block releases only the samples after it, then blocks are
// Up; a stuck source fails intermittently, then for good, and every failed
// block is zeroed.
func TestCheck(t *testing.T) {
	tester, err := health.NewTester(health.DefaultHSMConfig())
	require.NoError(t, err)
	varied := func(n, seed int) []byte {
		b := make([]byte, n)
		for i := range b {
			// A sequence with no long runs and no value repeated often
			// (an LCG's low byte would cycle; take a middle one).
			seed = seed*1103515245 + 12345
			b[i] = byte(seed >> 16)
		}
		return b
	}

	block := varied(health.StartUpSamples+100, 1)
	usable, v, err := Check(tester, block)
	require.NoError(t, err)
	require.Equal(t, Up, v, "a block longer than the start-up test ends it")
	assert.Equal(t, block[health.StartUpSamples:], usable, "only the samples after the start-up test are usable")

	usable, v, err = Check(tester, varied(64, 2))
	require.NoError(t, err)
	assert.Equal(t, Up, v)
	assert.Len(t, usable, 64)

	// One value repeated 9 times: the repetition count test's intermittent
	// cutoff (alpha 2^-64, 8 bits per sample), once; each further repeat
	// would be one more failure, and the third is permanent.
	stuck := make([]byte, 9)
	for i := range stuck {
		stuck[i] = 0xA5
	}
	usable, v, err = Check(tester, stuck)
	assert.Nil(t, usable)
	require.Equal(t, Intermittent, v, "%v", err)
	assert.ErrorIs(t, err, health.ErrIntermittent)
	assert.Equal(t, make([]byte, len(stuck)), stuck, "a failed block is zeroed")

	// After an intermittent failure the start-up test runs again.
	usable, v, err = Check(tester, varied(100, 3))
	require.NoError(t, err)
	assert.Equal(t, StartingUp, v, "100 samples do not end a new start-up test")
	assert.Empty(t, usable)

	// Stuck for long enough, the tester fails for good.
	for range 10 {
		stuck := make([]byte, 1000)
		for i := range stuck {
			stuck[i] = 0xA5
		}
		if _, v, err = Check(tester, stuck); v == Permanent {
			assert.ErrorIs(t, err, health.ErrPermanent)
			assert.Equal(t, make([]byte, len(stuck)), stuck, "a failed block is zeroed")
			return
		}
		require.Contains(t, []Verdict{Intermittent, StartingUp}, v)
	}
	require.Fail(t, "a source stuck on one value never failed for good")
}
