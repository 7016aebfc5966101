package p11

import (
	"testing"

	"github.com/hsmentropy/hsmentropy/internal/faultp11"
	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFailedGenerateRandomLeaksNothing: 1,000 C_GenerateRandom calls of
// 64 KiB that the token fails (CKR_DEVICE_ERROR, from the fault module)
// leave the C heap (glibc's count of bytes in use, mallinfo2) where it was.
// Through miekg/pkcs11's GenerateRandom each leaked its 64 KiB C buffer:
// 62.5 MiB. The process's resident memory would not show all of it: glibc
// hands calloc fresh pages without touching them.
func TestFailedGenerateRandomLeaksNothing(t *testing.T) {
	needSoftHSM(t)
	path := faultp11.Module(t)
	ctl := hsm.ctl // the fault module reads its control file's name once
	require.NoError(t, ctl.Clear())
	t.Cleanup(func() { ctl.Clear() })
	lib, release, err := modules.acquire(path)
	require.NoError(t, err)
	defer release()
	mod := lib.initer
	require.IsType(t, directRNG{}, mod, "the function list of %s was not found", path)

	h, err := mod.OpenSession(hsm.alpha.Slot, pkcs11.CKF_SERIAL_SESSION)
	require.NoError(t, err)
	defer mod.CloseSession(h)
	b, err := mod.GenerateRandom(h, MaxChunk)
	require.NoError(t, err)
	_, err = checkBlock(b, MaxChunk)
	require.NoError(t, err, "C_GenerateRandom through the function list")

	require.NoError(t, ctl.Set(faultp11.Fail("C_GenerateRandom", pkcs11.CKR_DEVICE_ERROR, -1)))
	before := cHeapInUse()
	if before < 0 {
		t.Skip("no mallinfo2 here to count the C heap")
	}
	const calls = 1000
	for range calls {
		_, err := mod.GenerateRandom(h, MaxChunk)
		code, _ := ckrOf(err)
		require.Equal(t, uint(pkcs11.CKR_DEVICE_ERROR), code)
	}
	after := cHeapInUse()
	t.Logf("C heap in use: %d KiB before %d failed calls, %d KiB after", before>>10, calls, after>>10)
	// A tenth of what the leak was: room for the module's own allocations.
	assert.Less(t, after-before, int64(calls*MaxChunk/10), "failed C_GenerateRandom calls leak their buffers")
}
