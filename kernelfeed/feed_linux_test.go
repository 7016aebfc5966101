package kernelfeed

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// TestPoolInfoLayout pins struct rand_pool_info: two 32-bit ints, then the
// bytes inline at offset 8. A Go int in place of int32 would put buf_size at
// offset 8 and the data at 16.
func TestPoolInfoLayout(t *testing.T) {
	var h poolInfoHeader
	if unsafe.Sizeof(h) != poolInfoHeaderLen || unsafe.Offsetof(h.EntropyCount) != 0 || unsafe.Offsetof(h.BufSize) != 4 {
		t.Fatalf("poolInfoHeader: size %d, offsets %d %d; want 8, 0, 4",
			unsafe.Sizeof(h), unsafe.Offsetof(h.EntropyCount), unsafe.Offsetof(h.BufSize))
	}
	data := []byte("0123456789")
	buf := make([]byte, poolInfoHeaderLen+len(data))
	enc := encodePoolInfo(buf, 77, data)
	if len(enc) != poolInfoHeaderLen+len(data) {
		t.Fatalf("encoded length %d, want %d", len(enc), poolInfoHeaderLen+len(data))
	}
	// Read it back the way the kernel does: as the C struct in memory.
	got := (*poolInfoHeader)(unsafe.Pointer(&enc[0]))
	if got.EntropyCount != 77 || got.BufSize != int32(len(data)) {
		t.Errorf("header reads back as %+v, want {77 %d}", *got, len(data))
	}
	if binary.NativeEndian.Uint32(enc[4:8]) != uint32(len(data)) {
		t.Errorf("buf_size bytes %x", enc[4:8])
	}
	if !bytes.Equal(enc[poolInfoHeaderLen:], data) {
		t.Errorf("data at offset 8 is %q, want %q", enc[8:], data)
	}
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		msg := "kernelfeed: SKIPPED the real RNDADDENTROPY test: not running as root (it needs CAP_SYS_ADMIN)"
		if os.Getenv("HSMENTROPY_REQUIRE_KERNELFEED") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

func TestKernelReady(t *testing.T) {
	ready, err := KernelReady()
	if err != nil {
		t.Fatal(err)
	}
	// A machine that has run long enough to build and test this package
	// has a seeded kernel RNG.
	if !ready {
		t.Log("kernel RNG not ready yet")
	}
}

// TestFeedRealIoctl runs the real RNDADDENTROPY and RNDRESEEDCRNG.
func TestFeedRealIoctl(t *testing.T) {
	needRoot(t)
	fd, err := Open(Config{BitsPerByte: 8, Reseed: true})
	if errors.Is(err, ErrNotPermitted) && os.Getenv("HSMENTROPY_REQUIRE_KERNELFEED") != "1" {
		t.Skipf("kernelfeed: SKIPPED: root without CAP_SYS_ADMIN in the initial user namespace: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	ready, err := KernelReady()
	if err != nil {
		t.Fatal(err)
	}

	data := make([]byte, MaxChunk+100) // two chunks
	rand.Read(data)
	res, err := fd.Feed(data)
	if err != nil {
		t.Fatalf("Feed: %v", err)
	}
	if res.Bytes != len(data) || res.KernelReady != ready {
		t.Errorf("Feed result %+v, want %d bytes, ready=%v", res, len(data), ready)
	}
	wantCredit := 0
	if !ready {
		wantCredit = Credit(len(data), 8)
	}
	if res.Credited != wantCredit {
		t.Errorf("credited %d bits, want %d (kernel ready: %v)", res.Credited, wantCredit, ready)
	}
	if ready && !res.Reseeded {
		t.Error("Reseed was asked for but did not happen")
	}
	for i, b := range fd.buf {
		if b != 0 {
			t.Fatalf("ioctl buffer not wiped: byte %d is %#x", i, b)
		}
	}

	res, err = fd.FeedFrom(rand.Reader, 3*MaxChunk+1)
	if err != nil || res.Bytes != 3*MaxChunk+1 {
		t.Fatalf("FeedFrom: %+v, %v", res, err)
	}
	if ready {
		if err := fd.Reseed(); err != nil {
			t.Fatalf("Reseed: %v", err)
		}
	}
	st := fd.Stats()
	if st.Feeds != 5 || st.Bytes != uint64(len(data)+3*MaxChunk+1) || st.Errors != 0 {
		t.Errorf("stats %+v", st)
	}
	if ready && st.Reseeds < 3 {
		t.Errorf("stats %+v: want at least 3 reseeds", st)
	}
	if err := fd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := fd.Feed(data); !errors.Is(err, ErrClosed) {
		t.Errorf("Feed after Close: %v, want ErrClosed", err)
	}
}

// TestFeedCreditsOnlyBeforeReady feeds through the real ioctl as a Feeder
// that believes the kernel RNG is not ready (a kernel that has booted far
// enough to run tests always is): it credits BitsPerByte per byte, capped,
// and counts it; once the kernel says it is ready, it credits nothing and
// never asks again.
func TestFeedCreditsOnlyBeforeReady(t *testing.T) {
	needRoot(t)
	fd, err := Open(Config{BitsPerByte: 6})
	if errors.Is(err, ErrNotPermitted) && os.Getenv("HSMENTROPY_REQUIRE_KERNELFEED") != "1" {
		t.Skipf("kernelfeed: SKIPPED: root without CAP_SYS_ADMIN in the initial user namespace: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	ready, asked := false, 0
	fd.kernelReady = func() (bool, error) { asked++; return ready, nil }
	data := make([]byte, 100)
	rand.Read(data)
	res, err := fd.Feed(data)
	if err != nil {
		t.Fatal(err)
	}
	if res.Credited != 600 || res.KernelReady || fd.Stats().CreditedBits != 600 {
		t.Errorf("not ready: credited %d bits (stats %d), ready %v; want 600, 600, false", res.Credited, fd.Stats().CreditedBits, res.KernelReady)
	}
	ready = true
	for range 3 {
		if res, err = fd.Feed(data); err != nil || res.Credited != 0 || !res.KernelReady {
			t.Fatalf("ready: %+v, %v; want no credit", res, err)
		}
	}
	if asked != 2 || fd.Stats().CreditedBits != 600 || fd.Stats().Bytes != 400 {
		t.Errorf("asked %d times, stats %+v; want 2 (ready stays ready), 600 bits, 400 bytes", asked, fd.Stats())
	}
}

// TestContainerRoot runs Open as root of a new user namespace, which is what
// root in a container is: it holds CAP_SYS_ADMIN in its own namespace only,
// so /dev/random opens but the ioctl is refused. Open must say so clearly.
func TestContainerRoot(t *testing.T) {
	if os.Getenv("KERNELFEED_CHILD") == "1" {
		_, err := Open(Config{})
		if err == nil {
			os.Stdout.WriteString("OPEN SUCCEEDED\n")
			os.Exit(3)
		}
		os.Stdout.WriteString(err.Error() + "\n")
		if !errors.Is(err, ErrNotPermitted) {
			os.Exit(4)
		}
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestContainerRoot$")
	cmd.Env = append(os.Environ(), "KERNELFEED_CHILD=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Skipf("kernelfeed: SKIPPED: cannot create a user namespace here: %v", err)
	}
	if err != nil {
		t.Fatalf("in a user namespace: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "CAP_SYS_ADMIN") {
		t.Errorf("error does not name the capability:\n%s", out)
	}
}

// TestFeedCreditedCapsCredit: the credit never exceeds the caller's bound
// on the input behind the bytes, spread over MaxChunk chunks, and 0 or a
// negative bound credits nothing (through the real ioctl, with a Feeder
// that believes the kernel RNG is not ready).
func TestFeedCreditedCapsCredit(t *testing.T) {
	needRoot(t)
	fd, err := Open(Config{BitsPerByte: 6})
	if errors.Is(err, ErrNotPermitted) && os.Getenv("HSMENTROPY_REQUIRE_KERNELFEED") != "1" {
		t.Skipf("kernelfeed: SKIPPED: root without CAP_SYS_ADMIN in the initial user namespace: %v", err)
	}
	require.NoError(t, err)
	defer fd.Close()
	fd.kernelReady = func() (bool, error) { return false, nil }
	data := make([]byte, MaxChunk+100)
	rand.Read(data)
	for _, tc := range []struct{ limit, want int }{
		{288, 288},                         // 48 HSM bytes at 6 bits, below 6 × len
		{MaxChunk*6 + 10, MaxChunk*6 + 10}, // spans both chunks
		{1 << 30, (MaxChunk + 100) * 6},    // the bytes' own credit is the cap
		{0, 0},
		{-5, 0},
	} {
		before := fd.Stats().CreditedBits
		res, err := fd.FeedCredited(data, tc.limit)
		require.NoError(t, err)
		assert.Equal(t, tc.want, res.Credited, "limit %d", tc.limit)
		assert.Equal(t, uint64(tc.want), fd.Stats().CreditedBits-before, "limit %d", tc.limit)
		assert.Equal(t, len(data), res.Bytes)
	}
}
