package hsmrand

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
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
	if err := ctl.Clear(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(t.Context(), Config{
		ModulePath: module, TokenLabel: hsm.faults.Label, PIN: []byte(hsm.faults.PIN),
		TokenOptions: TokenOptions{BackoffMin: faultBackoffMin, BackoffMax: faultBackoffMax}, Options: opts,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	t.Cleanup(func() { ctl.Clear() }) // runs first
	return r, ctl
}

func setFaults(t *testing.T, ctl *faultp11.Control, lines ...string) {
	t.Helper()
	if err := ctl.Set(lines...); err != nil {
		t.Fatal(err)
	}
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
			t.Fatalf("not healthy %v after the faults ended: %+v", bound, r.Stats())
		}
		// Reads keep the mixer asking for HSM bytes, as a live service does.
		r.GetRandom(32)
		time.Sleep(time.Millisecond)
	}
	t.Logf("healthy again %v after the faults ended", time.Since(start).Round(time.Millisecond))
	if err := drain(r, 100); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

// recoveryBound is how long a recovery may take: two maximal back-offs and
// their jitter, and room for a loaded machine under -race.
const recoveryBound = 4*faultBackoffMax + 2*time.Second

// checkOutput reads n bytes and fails unless they came back whole and
// look random (not all zero).
func checkOutput(t *testing.T, b []byte, err error, n int) {
	t.Helper()
	if err != nil {
		t.Fatalf("GetRandom(%d): %v", n, err)
	}
	if len(b) != n || bytes.Count(b, []byte{0}) == n {
		t.Fatalf("GetRandom(%d) returned %d bytes, all zero: %v", n, len(b), bytes.Count(b, []byte{0}) == len(b))
	}
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
					if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), name) {
						t.Fatalf("FailClosed with the token failing: %v; want ErrUnavailable naming %s", err, name)
					}
					if st := r.Stats(); st.State != StateSourceDown || st.OSOnlySeeds != 0 {
						t.Errorf("state %v, OS-only seeds %d; want source-down and none", st.State, st.OSOnlySeeds)
					}
				case Degrade:
					if err != nil {
						t.Fatalf("Degrade with the token failing: %v", err)
					}
					waitFor(t, "degraded", func() bool {
						b, err := r.GetRandom(32)
						checkOutput(t, b, err, 32)
						return r.Stats().State == StateDegraded
					})
				}
				// Reads that need no fresh HSM bytes go on in both.
				b := make([]byte, 4096)
				if _, err := r.Read(b); err != nil {
					t.Fatalf("Read from a seeded shard: %v", err)
				}
				st := r.Stats()
				if st.Tokens[0].Errors[name] == 0 || st.HSMErrors == 0 {
					t.Errorf("token errors %v, HSM errors %d; want %s counted", st.Tokens[0].Errors, st.HSMErrors, name)
				}
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
			t.Fatalf("not healthy %v after the token came back: %+v", recoveryBound, r.Stats())
		}
		b, err := r.GetRandom(64)
		checkOutput(t, b, err, 64)
		time.Sleep(time.Millisecond)
	}
	t.Logf("healthy again %v after the removal began (%v long)", time.Since(start).Round(time.Millisecond), removal)
	st := r.Stats()
	tok := st.Tokens[0]
	if tok.Recoveries == 0 || tok.Errors["CKR_DEVICE_REMOVED"]+tok.Errors["CKR_TOKEN_NOT_PRESENT"]+tok.Errors["token-not-found"]+tok.Errors["CKR_SESSION_HANDLE_INVALID"] == 0 {
		t.Errorf("token stats %+v; want a recovery and the removal counted", tok)
	}
	if st.OSOnlySeeds == 0 || st.ReadErrors != 0 {
		t.Errorf("OS-only seeds %d, read errors %d; want > 0 (degraded) and 0", st.OSOnlySeeds, st.ReadErrors)
	}
	setFaults(t, ctl)
	if err := drain(r, 200); err != nil {
		t.Fatal(err)
	}
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
			if st.HSMBytes != accepted {
				t.Errorf("%d HSM bytes accepted while every block was %s", st.HSMBytes-accepted, mode)
			}
			if st.HealthFailures != 0 {
				t.Errorf("%d health failures: corrupt blocks reached the health tests", st.HealthFailures)
			}
			if st.State != StateDegraded || !strings.Contains(st.LastError, "block") {
				t.Errorf("state %v, last error %q; want degraded, the bad block named", st.State, st.LastError)
			}
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
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no Threads line in /proc/self/status")
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
						if err != nil && !errors.Is(err, ErrUnavailable) {
							t.Errorf("read with the HSM hung: %v", err)
							return
						}
						if err != nil && pol == Degrade {
							t.Errorf("Degrade read failed with the HSM hung: %v", err)
							return
						}
					}
				})
			}
			wg.Wait()
			t.Logf("slowest read %v; errors %v", slowest, errs)
			// No read may wait much past the deadline: a few deadlines
			// leave room for -race on a loaded machine.
			if slowest > 10*deadline+time.Second {
				t.Errorf("a read took %v with the HSM hung; the deadline is %v", slowest, deadline)
			}
			if got := osThreads(t); got > threads+4 {
				t.Errorf("%d OS threads with the HSM hung, %d before: reads pin threads", got, threads)
			}
			if pol == FailClosed && len(errs) == 0 {
				t.Error("FailClosed: no read needed the hung HSM; the test did not test the hang")
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
		if _, err := rand.Read(p); err != nil {
			t.Fatalf("crypto/rand.Read %d: %v", i, err)
		}
		if i%100 == 0 {
			if _, _, err := ed25519.GenerateKey(rand.Reader); err != nil {
				t.Fatal(err)
			}
		}
	}
	st := r.Stats()
	t.Logf("2000 reads of 1 KiB in %v, %d installed waits", time.Since(start).Round(time.Millisecond), st.InstalledWaits)
	if st.InstalledWaits == 0 {
		t.Error("no installed read waited: the token's failure was never met")
	}
	if st.OSOnlySeeds != 0 {
		t.Errorf("%d OS-only seeds under FailClosed", st.OSOnlySeeds)
	}
}

// TestFaultSessionsInvalidated: the token closes the Reader's sessions
// under it, again and again; reads go on and the sessions are reopened.
func TestFaultSessionsInvalidated(t *testing.T) {
	r, ctl := openFaulty(t, Options{HSMBuffer: MinHSMBuffer})
	for range 20 {
		setFaults(t, ctl, faultp11.Invalidate())
		if err := drain(r, 50); err != nil {
			t.Fatalf("reads with sessions invalidated: %v", err)
		}
	}
	st := r.Stats()
	if st.Tokens[0].Reopens == 0 || st.ReadErrors != 0 || st.State != StateHealthy {
		t.Errorf("reopens %d, read errors %d, state %v; want > 0, 0, healthy", st.Tokens[0].Reopens, st.ReadErrors, st.State)
	}
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
				if err != nil {
					t.Errorf("read under latency: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := r.Stats()
	t.Logf("%d HSM calls, mean %v, longest %v", st.HSMCalls-calls, st.MeanHSMLatency(), st.HSMMaxLatency)
	if st.State != StateHealthy || st.HSMCalls-calls < 20 {
		t.Errorf("state %v after %d HSM calls; want healthy, at least 20 calls to the slow token", st.State, st.HSMCalls-calls)
	}
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
			if err := ctl.Set(faultCycle[i%len(faultCycle)]...); err != nil {
				t.Error(err)
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
					t.Errorf("read of %d bytes under faults: %v", n, err)
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
	if st.ReadErrors != 0 {
		t.Errorf("%d read errors under Degrade", st.ReadErrors)
	}
	recoverWithin(t, r, ctl, recoveryBound)
	if after := liveHeap(); after > heapBefore+maxHeapGrowth {
		t.Errorf("live heap grew from %d KiB before the load to %d KiB after it (bound: %d KiB more)", heapBefore>>10, after>>10, maxHeapGrowth>>10)
	} else {
		t.Logf("live heap %d KiB before the load, %d KiB after it", heapBefore>>10, after>>10)
	}
	runtime.KeepAlive(heads) // counted at both points
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
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
	if dup, ok := firstDuplicate(all); ok {
		t.Errorf("two of %d reads of 32 bytes begin with the same 8 bytes %#x", len(all), dup)
	}
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
