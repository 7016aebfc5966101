package hsmrand

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/internal/faultp11"
	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests of this file reach SoftHSM through libfaultp11.so
// (internal/faultp11), which injects faults below miekg/pkcs11, so that
// they go through the real cgo calls, the p11 layer's recovery and the
// Reader's policies. The module is initialised once per process (the p11
// layer never finalises it), so every test drives the one control file
// TestMain made (hsm.ctl), starting and ending with no faults.

// Back-off bounds of the faulty token: a token that comes back is in use
// again within faultBackoffMax (plus the jitter and one refill).
const (
	faultBackoffMin = 20 * time.Millisecond
	faultBackoffMax = 200 * time.Millisecond
)

// openFaulty opens a Reader on the faults token through the fault module.
// The control file starts empty and is cleared at the end of the test,
// before the Reader is closed (a hung call would hold Close).
func openFaulty(t testing.TB, opts Options) (*Reader, *faultp11.Control) {
	t.Helper()
	needSoftHSM(t)
	module := faultp11.Module(t)
	ctl := hsm.ctl
	require.NoError(t, ctl.Clear())
	r, err := Open(t.Context(), Config{
		ModulePath: module, TokenLabel: hsm.faults.Label, PIN: []byte(hsm.faults.PIN),
		TokenOptions: TokenOptions{BackoffMin: faultBackoffMin, BackoffMax: faultBackoffMax}, Options: opts,
	})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, r.Close()) })
	t.Cleanup(func() { ctl.Clear() }) // runs first
	return r, ctl
}

func setFaults(t *testing.T, ctl *faultp11.Control, lines ...string) {
	t.Helper()
	require.NoError(t, ctl.Set(lines...))
}

// recoverWithin clears the faults and waits for the Reader to be healthy
// again by itself, which the back-off bounds: the token is looked for again
// within faultBackoffMax, and a refill follows at once.
func recoverWithin(t *testing.T, r *Reader, ctl *faultp11.Control, bound time.Duration) {
	t.Helper()
	setFaults(t, ctl)
	start := time.Now()
	for r.Stats().State != StateHealthy {
		if time.Since(start) > bound {
			require.Failf(t, "not healthy in time", "not healthy %v after the faults ended: %+v", bound, r.Stats())
		}
		// Reads keep the mixer asking for HSM bytes, as a live service does.
		r.GetRandom(32)
		time.Sleep(time.Millisecond)
	}
	t.Logf("healthy again %v after the faults ended", time.Since(start).Round(time.Millisecond))
	require.NoError(t, drain(r, 100), "after recovery")
}

// recoveryBound is how long a recovery may take: two maximal back-offs and
// their jitter, and room for a loaded machine under -race.
const recoveryBound = 4*faultBackoffMax + 2*time.Second

// checkOutput reads n bytes and fails unless they came back whole and
// look random (not all zero).
func checkOutput(t *testing.T, b []byte, err error, n int) {
	t.Helper()
	require.NoError(t, err, "GetRandom(%d)", n)
	require.Len(t, b, n, "GetRandom(%d)", n)
	require.NotEqual(t, n, bytes.Count(b, []byte{0}), "GetRandom(%d) returned all zero", n)
}

func ckrName(code uint) string {
	return strings.TrimPrefix(pkcs11.Error(code).Error(), "pkcs11: 0x"+strings.ToUpper(strconv.FormatUint(uint64(code), 16))+": ")
}

// TestFaultCodes injects each device-level error on every C_GenerateRandom
// under both policies: FailClosed reads that need the HSM fail at the
// deadline with an error naming the code, Degrade reads go on from the OS;
// the token's Stats count the code; and the Reader is healthy again by
// itself when the token answers.
func TestFaultCodes(t *testing.T) {
	for _, code := range []uint{pkcs11.CKR_DEVICE_ERROR, pkcs11.CKR_DEVICE_REMOVED, pkcs11.CKR_TOKEN_NOT_PRESENT,
		pkcs11.CKR_GENERAL_ERROR, pkcs11.CKR_FUNCTION_FAILED, pkcs11.CKR_DEVICE_MEMORY} {
		for _, pol := range []Policy{FailClosed, Degrade} {
			name := ckrName(code)
			t.Run(name+"/"+pol.String(), func(t *testing.T) {
				const deadline = 100 * time.Millisecond
				r, ctl := openFaulty(t, Options{Policy: pol, AllowOSOnlyGetRandom: pol == Degrade, HSMBuffer: MinHSMBuffer, Deadline: deadline})
				setFaults(t, ctl, faultp11.Fail("C_GenerateRandom", code, -1))
				// GetRandom takes 48 buffered HSM bytes per call: the
				// buffer runs dry within MinHSMBuffer/48 calls.
				var err error
				for range MinHSMBuffer/48 + 10 {
					var b []byte
					b, err = r.GetRandom(32)
					if err != nil {
						break
					}
					checkOutput(t, b, nil, 32)
				}
				switch pol {
				case FailClosed:
					require.ErrorIs(t, err, ErrUnavailable, "FailClosed with the token failing")
					require.ErrorContains(t, err, name, "FailClosed with the token failing")
					st := r.Stats()
					assert.Equal(t, StateSourceDown, st.State)
					assert.Zero(t, st.OSOnlySeeds, "OS-only seeds")
				case Degrade:
					require.NoError(t, err, "Degrade with the token failing")
					waitFor(t, "degraded", func() bool {
						b, err := r.GetRandom(32)
						checkOutput(t, b, err, 32)
						return r.Stats().State == StateDegraded
					})
				}
				// Reads that need no fresh HSM bytes go on in both.
				b := make([]byte, 4096)
				_, err = r.Read(b)
				require.NoError(t, err, "Read from a seeded shard")
				st := r.Stats()
				assert.NotZero(t, st.Tokens[0].Errors[name], "token errors %v; want %s counted", st.Tokens[0].Errors, name)
				assert.NotZero(t, st.HSMErrors, "HSM errors")
				recoverWithin(t, r, ctl, recoveryBound)
			})
		}
	}
}

// TestFaultRemovedAndBack: the token disappears (no slot lists it, its
// sessions are closed) and comes back after a while; the Reader finds it
// again and is healthy by itself, without a restart.
func TestFaultRemovedAndBack(t *testing.T) {
	const removal = 700 * time.Millisecond
	r, ctl := openFaulty(t, Options{Policy: Degrade, AllowOSOnlyGetRandom: true, HSMBuffer: MinHSMBuffer, Deadline: 100 * time.Millisecond})
	setFaults(t, ctl, faultp11.Removed(removal))
	start := time.Now()
	waitFor(t, "the removal to be seen", func() bool {
		b, err := r.GetRandom(64)
		checkOutput(t, b, err, 64)
		return r.Stats().State == StateDegraded
	})
	for r.Stats().State != StateHealthy {
		if time.Since(start) > removal+recoveryBound {
			require.Failf(t, "not healthy in time", "not healthy %v after the token came back: %+v", recoveryBound, r.Stats())
		}
		b, err := r.GetRandom(64)
		checkOutput(t, b, err, 64)
		time.Sleep(time.Millisecond)
	}
	t.Logf("healthy again %v after the removal began (%v long)", time.Since(start).Round(time.Millisecond), removal)
	st := r.Stats()
	tok := st.Tokens[0]
	assert.NotZero(t, tok.Recoveries, "token stats %+v; want a recovery", tok)
	assert.NotZero(t, tok.Errors["CKR_DEVICE_REMOVED"]+tok.Errors["CKR_TOKEN_NOT_PRESENT"]+tok.Errors["token-not-found"]+tok.Errors["CKR_SESSION_HANDLE_INVALID"],
		"token stats %+v; want the removal counted", tok)
	assert.NotZero(t, st.OSOnlySeeds, "OS-only seeds; want > 0 (degraded)")
	assert.Zero(t, st.ReadErrors, "read errors")
	setFaults(t, ctl)
	require.NoError(t, drain(r, 200))
}

// TestFaultCorruptOutput: the token answers CKR_OK with all-zero, repeated
// or half-filled output. The block checks refuse every such block, so none
// reaches the health tests or the mixer: the HSM bytes accepted do not grow
// while the token is corrupt, and Stats shows the refusals.
func TestFaultCorruptOutput(t *testing.T) {
	for _, mode := range []string{faultp11.OutputZero, faultp11.OutputRepeat, faultp11.OutputShort} {
		t.Run(mode, func(t *testing.T) {
			r, ctl := openFaulty(t, Options{Policy: Degrade, AllowOSOnlyGetRandom: true, HSMBuffer: MinHSMBuffer, Deadline: 50 * time.Millisecond})
			badBlocks := func() uint64 { return r.Stats().Tokens[0].Errors["bad-block"] }
			setFaults(t, ctl, faultp11.Output(mode, -1))
			waitFor(t, "three refused blocks", func() bool {
				r.GetRandom(32)
				return badBlocks() >= 3
			})
			// From here every answer is corrupt: nothing more is accepted.
			accepted := r.Stats().HSMBytes
			seen := badBlocks()
			waitFor(t, "three more refused blocks", func() bool {
				b, err := r.GetRandom(32)
				checkOutput(t, b, err, 32)
				return badBlocks() >= seen+3
			})
			st := r.Stats()
			assert.Equal(t, accepted, st.HSMBytes, "HSM bytes accepted while every block was %s", mode)
			assert.Zero(t, st.HealthFailures, "health failures: corrupt blocks reached the health tests")
			assert.Equal(t, StateDegraded, st.State)
			assert.Contains(t, st.LastError, "block", "last error: want the bad block named")
			recoverWithin(t, r, ctl, recoveryBound)
		})
	}
}

// osThreads returns the process's OS threads, from /proc/self/status.
func osThreads(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			require.NoError(t, err)
			return n
		}
	}
	require.Fail(t, "no Threads line in /proc/self/status")
	return 0
}

// TestFaultHang: C_GenerateRandom never returns. Reads still return
// promptly (served, or failed at the deadline under FailClosed), GetRandom
// under Degrade goes on from the OS, and the hung call pins one OS thread,
// not one per read: the thread count stays within the session bound.
func TestFaultHang(t *testing.T) {
	for _, pol := range []Policy{FailClosed, Degrade} {
		t.Run(pol.String(), func(t *testing.T) {
			const deadline = 100 * time.Millisecond
			r, ctl := openFaulty(t, Options{Policy: pol, AllowOSOnlyGetRandom: pol == Degrade, HSMBuffer: MinHSMBuffer, Deadline: deadline,
				Reseed: ReseedPolicy{Bytes: 64 << 10}})
			threads := osThreads(t)
			setFaults(t, ctl, faultp11.Hang("C_GenerateRandom"))
			var wg sync.WaitGroup
			var mu sync.Mutex
			var slowest time.Duration
			errs := map[string]int{}
			for g := range 16 {
				wg.Go(func() {
					p := make([]byte, 32+g*100)
					for range 500 {
						start := time.Now()
						var err error
						if g%2 == 0 {
							_, err = r.Read(p)
						} else {
							_, err = r.GetRandom(32)
						}
						d := time.Since(start)
						mu.Lock()
						slowest = max(slowest, d)
						if err != nil {
							errs[err.Error()[:min(len(err.Error()), 60)]]++
						}
						mu.Unlock()
						// assert, not require: not the test's goroutine.
						if err != nil && !assert.ErrorIs(t, err, ErrUnavailable, "read with the HSM hung") {
							return
						}
						if err != nil && pol == Degrade {
							assert.NoError(t, err, "Degrade read failed with the HSM hung")
							return
						}
					}
				})
			}
			wg.Wait()
			t.Logf("slowest read %v; errors %v", slowest, errs)
			// No read may wait much past the deadline: a few deadlines
			// leave room for -race on a loaded machine.
			assert.LessOrEqual(t, slowest, 10*deadline+time.Second, "the slowest read with the HSM hung; the deadline is %v", deadline)
			assert.LessOrEqual(t, osThreads(t), threads+4, "OS threads with the HSM hung, %d before: reads pin threads", threads)
			if pol == FailClosed {
				assert.NotEmpty(t, errs, "FailClosed: no read needed the hung HSM; the test did not test the hang")
			}
			recoverWithin(t, r, ctl, recoveryBound)
		})
	}
}

// TestFaultInstalledNeverErrors: an installed FailClosed Reader with the
// token failing never hands crypto/rand an error (which would crash the
// process): reads that need the HSM wait until it is back.
func TestFaultInstalledNeverErrors(t *testing.T) {
	r, ctl := openFaulty(t, Options{HSMBuffer: MinHSMBuffer, Deadline: 50 * time.Millisecond,
		Reseed: ReseedPolicy{Bytes: 4096}})
	restore := install(t, r)
	defer restore()
	setFaults(t, ctl, faultp11.Fail("C_GenerateRandom", pkcs11.CKR_DEVICE_ERROR, -1))
	go func() {
		time.Sleep(500 * time.Millisecond)
		ctl.Clear()
	}()
	start := time.Now()
	p := make([]byte, 1024)
	for i := range 2000 {
		_, err := rand.Read(p)
		require.NoError(t, err, "crypto/rand.Read %d", i)
		if i%100 == 0 {
			_, _, err := ed25519.GenerateKey(rand.Reader)
			require.NoError(t, err)
		}
	}
	st := r.Stats()
	t.Logf("2000 reads of 1 KiB in %v, %d installed waits", time.Since(start).Round(time.Millisecond), st.InstalledWaits)
	assert.NotZero(t, st.InstalledWaits, "no installed read waited: the token's failure was never met")
	assert.Zero(t, st.OSOnlySeeds, "OS-only seeds under FailClosed")
}

// TestFaultSessionsInvalidated: the token closes the Reader's sessions
// under it, again and again; reads go on and the sessions are reopened.
func TestFaultSessionsInvalidated(t *testing.T) {
	r, ctl := openFaulty(t, Options{HSMBuffer: MinHSMBuffer})
	for range 20 {
		setFaults(t, ctl, faultp11.Invalidate())
		require.NoError(t, drain(r, 50), "reads with sessions invalidated")
	}
	st := r.Stats()
	assert.NotZero(t, st.Tokens[0].Reopens, "reopens")
	assert.Zero(t, st.ReadErrors, "read errors")
	assert.Equal(t, StateHealthy, st.State)
}

// TestFaultLatency: a heavy-tailed token (1 ms typical, up to 300 ms) does
// not stop reads: with a small HSM buffer the refiller keeps calling it
// while reads and GetRandom calls go on.
func TestFaultLatency(t *testing.T) {
	r, ctl := openFaulty(t, Options{Deadline: time.Second, HSMBuffer: MinHSMBuffer, Reseed: ReseedPolicy{Bytes: 64 << 10}})
	setFaults(t, ctl, faultp11.Pareto("C_GenerateRandom", time.Millisecond, 1.1, 300*time.Millisecond),
		faultp11.Pareto("C_OpenSession", time.Millisecond, 1.1, 300*time.Millisecond))
	calls := r.Stats().HSMCalls
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			p := make([]byte, 1<<g*16)
			for range 300 {
				var err error
				if g%2 == 0 {
					_, err = r.Read(p)
				} else {
					_, err = r.GetRandom(32)
				}
				if !assert.NoError(t, err, "read under latency") { // not require: not the test's goroutine
					return
				}
			}
		})
	}
	wg.Wait()
	st := r.Stats()
	t.Logf("%d HSM calls, mean %v, longest %v", st.HSMCalls-calls, st.MeanHSMLatency(), st.HSMMaxLatency)
	assert.Equal(t, StateHealthy, st.State)
	assert.GreaterOrEqual(t, st.HSMCalls-calls, uint64(20), "HSM calls to the slow token")
}

// faultCycle is what TestFaultLoad injects in turn.
var faultCycle = [][]string{
	nil,
	{faultp11.Fail("C_GenerateRandom", pkcs11.CKR_DEVICE_ERROR, -1)},
	{faultp11.Removed(150 * time.Millisecond)},
	nil,
	{faultp11.Output(faultp11.OutputZero, -1)},
	{faultp11.Output(faultp11.OutputRepeat, -1)},
	{faultp11.Output(faultp11.OutputShort, -1)},
	{faultp11.Pareto(faultp11.All, time.Millisecond, 1.2, 100*time.Millisecond)},
	{faultp11.Invalidate()},
	{faultp11.Hang("C_GenerateRandom")},
	{faultp11.Fail("C_GenerateRandom", pkcs11.CKR_SESSION_HANDLE_INVALID, 3)},
	{faultp11.Fail(faultp11.All, pkcs11.CKR_GENERAL_ERROR, 5)},
}

// TestFaultLoad: 64 goroutines read sizes from 0 to 1 MiB for 30 s (3 s
// with -short) while the faults above cycle every 200 ms, through a
// Degrade Reader: no read fails, no two 32-byte reads are alike, and
// neither goroutines nor the heap grow. The race detector (make test)
// watches every access.
//
// The heap is compared at two quiet points, with the Reader open and no read
// or HSM call in flight: before the load and after it, once the Reader has
// recovered. Sampling it during the load measured the reads in flight as
// much as the Reader (the 64 readers' buffers and the output of their
// GetRandom calls: live heaps of 202 MiB in the first half and 253 MiB in
// the second on a loaded 2-core machine), and failed there. At the quiet points only what
// the Reader keeps is left; the bound, maxHeapGrowth, is far above its state
// (a few shards' 16 KiB buffers and the HSM buffer) and far below the load's
// traffic (gigabytes), so a leak of any per-read or per-fault size shows.
// Slower leaks are make soak's to find (internal/cmd/soak).
func TestFaultLoad(t *testing.T) {
	duration := 30 * time.Second
	if testing.Short() {
		duration = 3 * time.Second
	}
	goroutines := runtimeGoroutines()
	// A small HSM buffer and frequent reseeds keep the refiller calling the
	// token, so that the faults meet the read path.
	r, ctl := openFaulty(t, Options{Policy: Degrade, AllowOSOnlyGetRandom: true, Deadline: 50 * time.Millisecond, HSMBuffer: MinHSMBuffer,
		Reseed: ReseedPolicy{Bytes: 64 << 10}})

	stop := make(chan struct{})
	var faults sync.WaitGroup
	faults.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				ctl.Clear()
				return
			case <-time.After(200 * time.Millisecond):
			}
			if !assert.NoError(t, ctl.Set(faultCycle[i%len(faultCycle)]...)) { // not require: not the test's goroutine
				return
			}
		}
	})

	sizes := []int{0, 1, 16, 32, 33, 48, 100, 1000, 4096, 16 << 10, 64 << 10, 64<<10 + 1, 256 << 10, 1 << 20}
	// The first 8 bytes of up to 100,000 32-byte reads per goroutine,
	// preallocated so that the heap check below sees only the Reader.
	const keep = 100_000
	heads := make([][]uint64, 64)
	for g := range heads {
		heads[g] = make([]uint64, 0, keep)
	}
	var readers sync.WaitGroup
	heapBefore := liveHeap()
	deadline := time.Now().Add(duration)
	for g := range 64 {
		readers.Go(func() {
			buf := make([]byte, 1<<20)
			for i := 0; time.Now().Before(deadline); i++ {
				n := sizes[(g+i)%len(sizes)]
				if g%2 == 0 {
					n = 32
				}
				var err error
				if g%8 == 1 {
					var b []byte
					b, err = r.GetRandom(n) // prediction resistance: fresh HSM bytes each time
					copy(buf, b)
				} else {
					_, err = r.Read(buf[:n])
				}
				if err != nil {
					assert.NoError(t, err, "read of %d bytes under faults", n) // not require: not the test's goroutine
					return
				}
				if n == 32 && len(heads[g]) < keep {
					heads[g] = append(heads[g], binary.LittleEndian.Uint64(buf))
				}
			}
		})
	}
	readers.Wait()
	close(stop)
	faults.Wait()

	n32 := checkHeads(t, heads)
	st := r.Stats()
	t.Logf("%d reads (%d of 32 bytes), %d HSM calls, %d HSM errors, %d OS-only seeds, token %+v",
		st.Reads, n32, st.HSMCalls, st.HSMErrors, st.OSOnlySeeds, st.Tokens[0])
	assert.Zero(t, st.ReadErrors, "read errors under Degrade")
	recoverWithin(t, r, ctl, recoveryBound)
	if after := liveHeap(); assert.LessOrEqual(t, after, heapBefore+maxHeapGrowth,
		"live heap grew from %d KiB before the load to %d KiB after it (bound: %d KiB more)", heapBefore>>10, after>>10, maxHeapGrowth>>10) {
		t.Logf("live heap %d KiB before the load, %d KiB after it", heapBefore>>10, after>>10)
	}
	runtime.KeepAlive(heads) // counted at both points
	require.NoError(t, r.Close())
	waitFor(t, fmt.Sprintf("goroutines back to %d", goroutines), func() bool { return runtimeGoroutines() <= goroutines+2 })
}

func runtimeGoroutines() int { return runtime.NumGoroutine() }

// checkHeads reports two reads with the same first 8 bytes, and returns the
// number of reads. Its copy of the heads is garbage when it returns.
func checkHeads(t *testing.T, heads [][]uint64) int {
	t.Helper()
	var all []uint64
	for _, h := range heads {
		all = append(all, h...)
	}
	dup, ok := firstDuplicate(all)
	assert.False(t, ok, "two of %d reads of 32 bytes begin with the same 8 bytes %#x", len(all), dup)

	return len(all)
}

// firstDuplicate returns a value that occurs twice in v (which it sorts).
func firstDuplicate(v []uint64) (uint64, bool) {
	slices.Sort(v)
	for i := 1; i < len(v); i++ {
		if v[i] == v[i-1] {
			return v[i], true
		}
	}
	return 0, false
}

// maxHeapGrowth bounds TestFaultLoad's heap growth between its quiet points.
const maxHeapGrowth = 16 << 20

// liveHeap returns the live heap after two collections (the second empties
// the sync.Pools' victim caches).
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
