package kernelfeed

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPoolInfoLayout pins struct rand_pool_info: two 32-bit ints, then the
// bytes inline at offset 8. A Go int in place of int32 would put buf_size at
// offset 8 and the data at 16.
func TestPoolInfoLayout(t *testing.T) {
	var h poolInfoHeader
	require.Equal(t, uintptr(poolInfoHeaderLen), unsafe.Sizeof(h), "poolInfoHeader size, want 8")
	require.Equal(t, uintptr(0), unsafe.Offsetof(h.EntropyCount), "offset of entropy_count")
	require.Equal(t, uintptr(4), unsafe.Offsetof(h.BufSize), "offset of buf_size")
	data := []byte("0123456789")
	buf := make([]byte, poolInfoHeaderLen+len(data))
	enc := encodePoolInfo(buf, 77, data)
	require.Len(t, enc, poolInfoHeaderLen+len(data), "encoded length")
	// Read it back the way the kernel does: as the C struct in memory.
	got := (*poolInfoHeader)(unsafe.Pointer(&enc[0]))
	assert.Equal(t, int32(77), got.EntropyCount, "header reads back as %+v", *got)
	assert.Equal(t, int32(len(data)), got.BufSize, "header reads back as %+v", *got)
	assert.Equal(t, uint32(len(data)), binary.NativeEndian.Uint32(enc[4:8]), "buf_size bytes %x", enc[4:8])
	assert.Equal(t, data, enc[poolInfoHeaderLen:], "data at offset 8")
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		msg := "kernelfeed: SKIPPED the real RNDADDENTROPY test: not running as root (it needs CAP_SYS_ADMIN)"
		if os.Getenv("HSMENTROPY_REQUIRE_KERNELFEED") == "1" {
			require.Fail(t, msg)
		}
		t.Skip(msg)
	}
}

func TestKernelReady(t *testing.T) {
	ready, err := KernelReady()
	require.NoError(t, err)
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
	require.NoError(t, err)
	defer fd.Close()
	ready, err := KernelReady()
	require.NoError(t, err)

	data := make([]byte, MaxChunk+100) // two chunks
	rand.Read(data)
	res, err := fd.Feed(data)
	require.NoError(t, err, "Feed")
	assert.Equal(t, len(data), res.Bytes, "Feed result %+v", res)
	assert.Equal(t, ready, res.KernelReady, "Feed result %+v", res)
	wantCredit := 0
	if !ready {
		wantCredit = Credit(len(data), 8)
	}
	assert.Equal(t, wantCredit, res.Credited, "credited bits (kernel ready: %v)", ready)
	if ready {
		assert.True(t, res.Reseeded, "Reseed was asked for but did not happen")
	}
	require.Equal(t, [len(fd.buf)]byte{}, fd.buf, "ioctl buffer not wiped")

	res, err = fd.FeedFrom(rand.Reader, 3*MaxChunk+1)
	require.NoError(t, err, "FeedFrom")
	require.Equal(t, 3*MaxChunk+1, res.Bytes, "FeedFrom: %+v", res)
	if ready {
		require.NoError(t, fd.Reseed(), "Reseed")
	}
	st := fd.Stats()
	assert.Equal(t, uint64(5), st.Feeds, "stats %+v", st)
	assert.Equal(t, uint64(len(data)+3*MaxChunk+1), st.Bytes, "stats %+v", st)
	assert.Zero(t, st.Errors, "stats %+v", st)
	if ready {
		assert.GreaterOrEqual(t, st.Reseeds, uint64(3), "stats %+v: want at least 3 reseeds", st)
	}
	require.NoError(t, fd.Close())
	_, err = fd.Feed(data)
	assert.ErrorIs(t, err, ErrClosed, "Feed after Close")
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
	require.NoError(t, err)
	defer fd.Close()
	ready, asked := false, 0
	fd.kernelReady = func() (bool, error) { asked++; return ready, nil }
	data := make([]byte, 100)
	rand.Read(data)
	res, err := fd.Feed(data)
	require.NoError(t, err)
	assert.Equal(t, 600, res.Credited, "not ready: credited bits")
	assert.False(t, res.KernelReady, "not ready: Feed reported the kernel ready")
	assert.Equal(t, uint64(600), fd.Stats().CreditedBits, "not ready: Stats().CreditedBits")
	ready = true
	for range 3 {
		res, err = fd.Feed(data)
		require.NoError(t, err, "ready")
		require.Zero(t, res.Credited, "ready: %+v, want no credit", res)
		require.True(t, res.KernelReady, "ready: %+v, want the kernel reported ready", res)
	}
	assert.Equal(t, 2, asked, "kernel asked (ready stays ready)")
	assert.Equal(t, uint64(600), fd.Stats().CreditedBits, "stats %+v", fd.Stats())
	assert.Equal(t, uint64(400), fd.Stats().Bytes, "stats %+v", fd.Stats())
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
	require.NoError(t, err, "in a user namespace:\n%s", out)
	assert.Contains(t, string(out), "CAP_SYS_ADMIN", "error does not name the capability")
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
