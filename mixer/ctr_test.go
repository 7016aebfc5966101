package mixer

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ctrTestInput returns n deterministic, non-zero bytes.
func ctrTestInput(n int, tag byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = tag ^ byte(i*7+1)
	}
	return b
}

func newTestCTR(t testing.TB, df bool) *CTR {
	t.Helper()
	var d *CTR
	var err error
	if df {
		d, err = NewCTR(ctrTestInput(MinEntropyLen, 1), ctrTestInput(MinNonceLen, 2), nil, true)
	} else {
		d, err = NewCTR(ctrTestInput(SeedLen, 1), nil, nil, false)
	}
	require.NoError(t, err)
	return d
}

// assertOK checks that err is nil exactly when ok is set.
func assertOK(t testing.TB, ok bool, err error, msgAndArgs ...any) bool {
	t.Helper()
	if ok {
		return assert.NoError(t, err, msgAndArgs...)
	}
	return assert.Error(t, err, msgAndArgs...)
}

// requireOK is assertOK that stops the test on a mismatch.
func requireOK(t testing.TB, ok bool, err error, msgAndArgs ...any) {
	t.Helper()
	if ok {
		require.NoError(t, err, msgAndArgs...)
	} else {
		require.Error(t, err, msgAndArgs...)
	}
}

func TestCTRConstants(t *testing.T) {
	// SP 800-90A Rev. 1, Table 3.
	assert.Equal(t, 48, SeedLen, "seedlen")
	assert.Equal(t, 65536, MaxRequest, "max_number_of_bits_per_request / 8")
	assert.Equal(t, 1<<48, ReseedInterval, "reseed_interval")
	assert.Equal(t, 32, KeyLen, "keylen")
	assert.Equal(t, 16, BlockLen, "blocklen")
}

func TestNewCTRLengths(t *testing.T) {
	n := func(k int) []byte { return ctrTestInput(k, 3) }
	for _, c := range []struct {
		df                     bool
		entropy, nonce, person int
		ok                     bool
	}{
		{false, SeedLen, 0, 0, true},
		{false, SeedLen, 0, SeedLen, true},
		{false, SeedLen - 1, 0, 0, false},
		{false, SeedLen + 1, 0, 0, false},
		{false, SeedLen, 16, 0, false},
		{false, SeedLen, 0, SeedLen + 1, false},
		{true, MinEntropyLen, MinNonceLen, 0, true},
		{true, MinEntropyLen - 1, MinNonceLen, 0, false},
		{true, MaxInputLen, MaxInputLen, MaxInputLen, true},
		{true, MaxInputLen + 1, MinNonceLen, 0, false},
		{true, MinEntropyLen, MinNonceLen - 1, 0, false},
		{true, MinEntropyLen, 0, 0, false},
		{true, MinEntropyLen, MaxInputLen + 1, 0, false},
		{true, MinEntropyLen, MinNonceLen, MaxInputLen + 1, false},
	} {
		name := fmt.Sprintf("df=%v/entropy=%d/nonce=%d/personalization=%d", c.df, c.entropy, c.nonce, c.person)
		d, err := NewCTR(n(c.entropy), n(c.nonce), n(c.person), c.df)
		assertOK(t, c.ok, err, name)
		if err == nil {
			assert.NotNil(t, d, "%s: no error and no DRBG", name)
		} else {
			assert.Nil(t, d, "%s: an error and a DRBG", name)
		}
		if err != nil {
			t.Logf("%s: %v", name, err)
		}
	}
}

func TestCTRReseedLengths(t *testing.T) {
	for _, c := range []struct {
		df                  bool
		entropy, additional int
		ok                  bool
	}{
		{false, SeedLen, 0, true},
		{false, SeedLen, SeedLen, true},
		{false, SeedLen - 1, 0, false},
		{false, SeedLen + 1, 0, false},
		{false, SeedLen, SeedLen + 1, false},
		{true, MinEntropyLen, 0, true},
		{true, MaxInputLen, MaxInputLen, true},
		{true, MinEntropyLen - 1, 0, false},
		{true, MaxInputLen + 1, 0, false},
		{true, MinEntropyLen, MaxInputLen + 1, false},
	} {
		d := newTestCTR(t, c.df)
		twin := newTestCTR(t, c.df)
		err := d.Reseed(ctrTestInput(c.entropy, 4), ctrTestInput(c.additional, 5))
		assertOK(t, c.ok, err, "df=%v: Reseed(%d, %d bytes)", c.df, c.entropy, c.additional)
		if !c.ok {
			ctrSameState(t, d, twin)
		}
	}
}

// ctrSameState checks that a and b produce the same next output.
func ctrSameState(t *testing.T, a, b *CTR) {
	t.Helper()
	x, y := make([]byte, 64), make([]byte, 64)
	require.NoError(t, a.Generate(x, nil))
	require.NoError(t, b.Generate(y, nil))
	assert.Equal(t, y, x, "a failed call changed the DRBG state")
}

func TestCTRGenerateLengths(t *testing.T) {
	for _, df := range []bool{false, true} {
		limit := SeedLen
		if df {
			limit = MaxInputLen
		}
		for _, c := range []struct {
			out, additional int
			ok              bool
		}{
			{0, 0, true},
			{MaxRequest, 0, true},
			{MaxRequest, limit, true},
			{MaxRequest + 1, 0, false},
			{64, limit + 1, false},
		} {
			d, twin := newTestCTR(t, df), newTestCTR(t, df)
			out := bytes.Repeat([]byte{0xA5}, c.out)
			err := d.Generate(out, ctrTestInput(c.additional, 6))
			assertOK(t, c.ok, err, "df=%v: Generate(%d, %d bytes)", df, c.out, c.additional)
			if err != nil {
				assert.Equal(t, bytes.Repeat([]byte{0xA5}, c.out), out, "df=%v: failed Generate wrote to out", df)
				assert.Equal(t, uint64(1), d.ReseedCounter(), "df=%v: failed Generate counted", df)
				ctrSameState(t, d, twin)
			}
		}
	}
}

// TestCTRReseedInterval checks Section 10.2.1.5.1 Step 1 at the cutoff:
// reseed_counter = ReseedInterval still generates, ReseedInterval+1 does not.
func TestCTRReseedInterval(t *testing.T) {
	d := newTestCTR(t, false)
	out := make([]byte, 32)
	d.reseedCounter = ReseedInterval
	require.NoError(t, d.Generate(out, nil), "Generate at reseed_counter = ReseedInterval")
	require.Equal(t, uint64(ReseedInterval+1), d.ReseedCounter(), "reseed counter")
	clear(out)
	for range 2 {
		err := d.Generate(out, nil)
		require.ErrorIs(t, err, ErrReseedRequired, "Generate past ReseedInterval")
		require.Equal(t, make([]byte, 32), out, "refused Generate wrote output")
		require.Equal(t, uint64(ReseedInterval+1), d.ReseedCounter(), "refused Generate counted")
	}
	require.NoError(t, d.Reseed(ctrTestInput(SeedLen, 7), nil))
	require.Equal(t, uint64(1), d.ReseedCounter(), "reseed counter after Reseed")
	require.NoError(t, d.Generate(out, nil), "Generate after Reseed")
}

// TestCTRZeroLengthGenerate checks the documented choice: a 0-bit request
// succeeds, runs the Step 6 update and counts.
func TestCTRZeroLengthGenerate(t *testing.T) {
	for _, df := range []bool{false, true} {
		d, twin := newTestCTR(t, df), newTestCTR(t, df)
		require.NoError(t, d.Generate(nil, ctrTestInput(16, 8)))
		assert.Equal(t, uint64(2), d.ReseedCounter(), "df=%v: reseed counter after a 0-byte request", df)
		x, y := make([]byte, 32), make([]byte, 32)
		d.Generate(x, nil)
		twin.Generate(y, nil)
		assert.NotEqual(t, y, x, "df=%v: a 0-byte request left the state unchanged", df)
	}
}

func TestCTRWipe(t *testing.T) {
	for _, df := range []bool{false, true} {
		d := newTestCTR(t, df)
		d.Generate(make([]byte, 1000), nil)
		d.Wipe()
		d.Wipe()
		assert.Equal(t, [KeyLen]byte{}, d.key, "df=%v: Wipe left the key", df)
		assert.Equal(t, [BlockLen]byte{}, d.v, "df=%v: Wipe left V", df)
		// == nil rather than assert.Nil: a typed nil in the interface must fail too.
		assert.True(t, d.block == nil, "df=%v: Wipe left the AES key schedule, want a nil cipher.Block", df)
		assert.True(t, d.bcc.key == nil, "df=%v: Wipe left the df key schedule, want a nil cipher.Block", df)
		assert.Zero(t, d.ReseedCounter(), "df=%v: Wipe left the reseed counter", df)
		out := make([]byte, 16)
		assert.ErrorIs(t, d.Generate(out, nil), errCTRWiped, "df=%v: Generate after Wipe", df)
		assert.Equal(t, make([]byte, 16), out, "df=%v: Generate after Wipe wrote output", df)
		entropy := ctrTestInput(SeedLen, 9)
		assert.ErrorIs(t, d.Reseed(entropy, nil), errCTRWiped, "df=%v: Reseed after Wipe", df)
		assert.ErrorIs(t, d.Generate(out, nil), errCTRWiped, "df=%v: Generate after Wipe and Reseed", df)
	}
}

// TestCTRSelfTestFailure checks that a failing known-answer test disables
// instantiation for good and runs only once.
func TestCTRSelfTestFailure(t *testing.T) {
	bad := ctrSelfTestVectors
	bad[1].returned = "00" + bad[1].returned[2:]
	runs := 0
	selfTest := sync.OnceValue(func() error {
		runs++
		return runCTRSelfTest(bad[:])
	})
	for range 3 {
		d, err := newCTR(selfTest, ctrTestInput(SeedLen, 1), nil, nil, false)
		require.Nil(t, d, "newCTR with a failing self-test")
		require.ErrorIs(t, err, errCTRSelfTest, "newCTR with a failing self-test")
	}
	assert.Equal(t, 1, runs, "self-test runs")
	t.Log(selfTest())

	// Each input of the record matters.
	for i := range 2 {
		for _, corrupt := range []func(v *ctrKAT){
			func(v *ctrKAT) { v.entropy = "ff" + v.entropy[2:] },
			func(v *ctrKAT) { v.personalization = "ff" + v.personalization[2:] },
			func(v *ctrKAT) { v.reseedEntropy = "ff" + v.reseedEntropy[2:] },
			func(v *ctrKAT) { v.reseedAdditional = "ff" + v.reseedAdditional[2:] },
			func(v *ctrKAT) { v.additional1 = "ff" + v.additional1[2:] },
			func(v *ctrKAT) { v.additional2 = "ff" + v.additional2[2:] },
			func(v *ctrKAT) { v.entropy = "zz" },
		} {
			v := ctrSelfTestVectors[i]
			corrupt(&v)
			assert.ErrorIs(t, runCTRSelfTest([]ctrKAT{v}), errCTRSelfTest, "%s: corrupted record passed", v.name)
		}
	}
	require.NoError(t, runCTRSelfTest(ctrSelfTestVectors[:]))
}

// TestCTRPaths checks both output paths, around the switch between them and
// the 64 KiB limit, against the reference, with and without df and
// additional input, and the stream path against the block path directly.
func TestCTRPaths(t *testing.T) {
	sizes := []int{0, 1, 15, 16, 17, 64, ctrStreamMin - 1, ctrStreamMin, ctrStreamMin + 1, 4096 + 5, MaxRequest - 1, MaxRequest}
	for _, df := range []bool{false, true} {
		entropy, nonce := ctrTestInput(SeedLen, 1), []byte(nil)
		if df {
			entropy, nonce = ctrTestInput(40, 1), ctrTestInput(20, 2)
		}
		d, err := NewCTR(entropy, nonce, ctrTestInput(20, 3), df)
		require.NoError(t, err)
		ref := newCTRRef(entropy, nonce, ctrTestInput(20, 3), df)
		for i, n := range sizes {
			add := ctrTestInput(i*4%(SeedLen+1), byte(i))
			out := make([]byte, n)
			require.NoError(t, d.Generate(out, add))
			want, _ := ref.generate(n, add)
			assert.Equal(t, want, out, "df=%v: Generate(%d bytes, %d bytes additional) differs from the reference", df, n, len(add))
		}
	}

	for _, n := range []int{0, 17, 640, 4097} {
		a, b := newTestCTR(t, false), newTestCTR(t, false)
		x, y := make([]byte, n), make([]byte, n)
		a.generateBlocks(x)
		b.generateStream(y)
		assert.Equal(t, x, y, "%d bytes: stream and block paths differ in output", n)
		assert.Equal(t, a.key, b.key, "%d bytes: stream and block paths differ in K", n)
		assert.Equal(t, a.v, b.v, "%d bytes: stream and block paths differ in V", n)
	}
}

// TestCTRAllocations checks the allocation budget documented on Generate:
// one per AES key schedule and one for the keystream.
func TestCTRAllocations(t *testing.T) {
	for _, c := range []struct {
		n, additional int
		df            bool
		max           float64
	}{
		{MaxRequest, 0, false, 2},
		{MaxRequest, SeedLen, false, 3},
		{32, 0, false, 1},
		{32, SeedLen, false, 2},
		{MaxRequest, 0, true, 2},
		{MaxRequest, 32, true, 4},
	} {
		d := newTestCTR(t, c.df)
		out, add := make([]byte, c.n), ctrTestInput(c.additional, 1)
		allocs := testing.AllocsPerRun(20, func() {
			if err := d.Generate(out, add); err != nil {
				require.NoError(t, err)
			}
		})
		t.Logf("df=%v: Generate(%d bytes, %d bytes additional): %v allocations", c.df, c.n, c.additional, allocs)
		assert.LessOrEqual(t, allocs, c.max, "df=%v: Generate(%d bytes, %d bytes additional): allocations", c.df, c.n, c.additional)
	}
}

var ctrBenchSizes = []struct {
	name string
	n    int
}{{"32B", 32}, {"4KiB", 4 << 10}, {"64KiB", 64 << 10}}

func BenchmarkGenerate(b *testing.B) {
	for _, s := range ctrBenchSizes {
		b.Run(s.name, func(b *testing.B) { benchmarkGenerate(b, s.n, nil) })
	}
	// The mixer's way: SeedLen bytes of additional input on every request.
	for _, s := range ctrBenchSizes {
		b.Run(s.name+"/additional", func(b *testing.B) { benchmarkGenerate(b, s.n, ctrTestInput(SeedLen, 1)) })
	}
}

func benchmarkGenerate(b *testing.B, n int, additional []byte) {
	d := newTestCTR(b, false)
	out := make([]byte, n)
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Generate(out, additional); err != nil {
			require.NoError(b, err)
		}
	}
}

// BenchmarkAESCTR is the anchor: raw AES-256-CTR keystream from crypto/cipher.
func BenchmarkAESCTR(b *testing.B) {
	for _, s := range ctrBenchSizes {
		b.Run(s.name, func(b *testing.B) {
			block, err := aes.NewCipher(ctrTestInput(KeyLen, 1))
			require.NoError(b, err)
			stream := cipher.NewCTR(block, make([]byte, BlockLen))
			out := make([]byte, s.n)
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				stream.XORKeyStream(out, out)
			}
		})
	}
}
