package mixer

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"sync"
	"testing"
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
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestCTRConstants(t *testing.T) {
	if SeedLen != 48 || MaxRequest != 65536 || ReseedInterval != 1<<48 || KeyLen != 32 || BlockLen != 16 {
		t.Errorf("constants disagree with SP 800-90A Rev. 1, Table 3: seedlen %d, max request %d, reseed interval %d",
			SeedLen, MaxRequest, ReseedInterval)
	}
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
		if c.ok != (err == nil) || (err == nil) != (d != nil) {
			t.Errorf("%s: got %v, %v; want ok = %v", name, d, err, c.ok)
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
		if c.ok != (err == nil) {
			t.Errorf("df=%v: Reseed(%d, %d bytes) = %v, want ok = %v", c.df, c.entropy, c.additional, err, c.ok)
		}
		if !c.ok {
			ctrSameState(t, d, twin)
		}
	}
}

// ctrSameState checks that a and b produce the same next output.
func ctrSameState(t *testing.T, a, b *CTR) {
	t.Helper()
	x, y := make([]byte, 64), make([]byte, 64)
	if err := a.Generate(x, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Generate(y, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Error("a failed call changed the DRBG state")
	}
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
			if c.ok != (err == nil) {
				t.Errorf("df=%v: Generate(%d, %d bytes) = %v, want ok = %v", df, c.out, c.additional, err, c.ok)
			}
			if err != nil {
				if !bytes.Equal(out, bytes.Repeat([]byte{0xA5}, c.out)) {
					t.Errorf("df=%v: failed Generate wrote to out", df)
				}
				if d.ReseedCounter() != 1 {
					t.Errorf("df=%v: failed Generate counted: reseed counter %d", df, d.ReseedCounter())
				}
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
	if err := d.Generate(out, nil); err != nil {
		t.Fatalf("Generate at reseed_counter = ReseedInterval: %v", err)
	}
	if got := d.ReseedCounter(); got != ReseedInterval+1 {
		t.Fatalf("reseed counter %d, want %d", got, uint64(ReseedInterval+1))
	}
	clear(out)
	for range 2 {
		err := d.Generate(out, nil)
		if !errors.Is(err, ErrReseedRequired) {
			t.Fatalf("Generate past ReseedInterval = %v, want ErrReseedRequired", err)
		}
		if !bytes.Equal(out, make([]byte, 32)) || d.ReseedCounter() != ReseedInterval+1 {
			t.Fatal("refused Generate wrote output or counted")
		}
	}
	if err := d.Reseed(ctrTestInput(SeedLen, 7), nil); err != nil {
		t.Fatal(err)
	}
	if d.ReseedCounter() != 1 {
		t.Fatalf("reseed counter after Reseed %d, want 1", d.ReseedCounter())
	}
	if err := d.Generate(out, nil); err != nil {
		t.Fatalf("Generate after Reseed: %v", err)
	}
}

// TestCTRZeroLengthGenerate checks the documented choice: a 0-bit request
// succeeds, runs the Step 6 update and counts.
func TestCTRZeroLengthGenerate(t *testing.T) {
	for _, df := range []bool{false, true} {
		d, twin := newTestCTR(t, df), newTestCTR(t, df)
		if err := d.Generate(nil, ctrTestInput(16, 8)); err != nil {
			t.Fatal(err)
		}
		if d.ReseedCounter() != 2 {
			t.Errorf("df=%v: reseed counter %d after a 0-byte request, want 2", df, d.ReseedCounter())
		}
		x, y := make([]byte, 32), make([]byte, 32)
		d.Generate(x, nil)
		twin.Generate(y, nil)
		if bytes.Equal(x, y) {
			t.Errorf("df=%v: a 0-byte request left the state unchanged", df)
		}
	}
}

func TestCTRWipe(t *testing.T) {
	for _, df := range []bool{false, true} {
		d := newTestCTR(t, df)
		d.Generate(make([]byte, 1000), nil)
		d.Wipe()
		d.Wipe()
		if d.key != [KeyLen]byte{} || d.v != [BlockLen]byte{} || d.block != nil || d.bcc.key != nil || d.ReseedCounter() != 0 {
			t.Errorf("df=%v: Wipe left state behind", df)
		}
		out := make([]byte, 16)
		if err := d.Generate(out, nil); !errors.Is(err, errCTRWiped) {
			t.Errorf("df=%v: Generate after Wipe = %v", df, err)
		}
		if !bytes.Equal(out, make([]byte, 16)) {
			t.Errorf("df=%v: Generate after Wipe wrote output", df)
		}
		entropy := ctrTestInput(SeedLen, 9)
		if err := d.Reseed(entropy, nil); !errors.Is(err, errCTRWiped) {
			t.Errorf("df=%v: Reseed after Wipe = %v", df, err)
		}
		if err := d.Generate(out, nil); !errors.Is(err, errCTRWiped) {
			t.Errorf("df=%v: Generate after Wipe and Reseed = %v", df, err)
		}
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
		if d != nil || !errors.Is(err, errCTRSelfTest) {
			t.Fatalf("newCTR with a failing self-test = %v, %v", d, err)
		}
	}
	if runs != 1 {
		t.Errorf("self-test ran %d times, want 1", runs)
	}
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
			if err := runCTRSelfTest([]ctrKAT{v}); !errors.Is(err, errCTRSelfTest) {
				t.Errorf("%s: corrupted record passed: %v", v.name, err)
			}
		}
	}
	if err := runCTRSelfTest(ctrSelfTestVectors[:]); err != nil {
		t.Fatal(err)
	}
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
		if err != nil {
			t.Fatal(err)
		}
		ref := newCTRRef(entropy, nonce, ctrTestInput(20, 3), df)
		for i, n := range sizes {
			add := ctrTestInput(i*4%(SeedLen+1), byte(i))
			out := make([]byte, n)
			if err := d.Generate(out, add); err != nil {
				t.Fatal(err)
			}
			want, _ := ref.generate(n, add)
			if !bytes.Equal(out, want) {
				t.Errorf("df=%v: Generate(%d bytes, %d bytes additional) differs from the reference", df, n, len(add))
			}
		}
	}

	for _, n := range []int{0, 17, 640, 4097} {
		a, b := newTestCTR(t, false), newTestCTR(t, false)
		x, y := make([]byte, n), make([]byte, n)
		a.generateBlocks(x)
		b.generateStream(y)
		if !bytes.Equal(x, y) || a.key != b.key || a.v != b.v {
			t.Errorf("%d bytes: stream and block paths differ", n)
		}
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
				t.Fatal(err)
			}
		})
		t.Logf("df=%v: Generate(%d bytes, %d bytes additional): %v allocations", c.df, c.n, c.additional, allocs)
		if allocs > c.max {
			t.Errorf("df=%v: Generate(%d bytes, %d bytes additional) makes %v allocations, want at most %v",
				c.df, c.n, c.additional, allocs, c.max)
		}
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
			b.Fatal(err)
		}
	}
}

// BenchmarkAESCTR is the anchor: raw AES-256-CTR keystream from crypto/cipher.
func BenchmarkAESCTR(b *testing.B) {
	for _, s := range ctrBenchSizes {
		b.Run(s.name, func(b *testing.B) {
			block, err := aes.NewCipher(ctrTestInput(KeyLen, 1))
			if err != nil {
				b.Fatal(err)
			}
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
