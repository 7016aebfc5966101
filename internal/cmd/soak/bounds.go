package main

import (
	"fmt"
	"strings"
)

// The bounds on entropyd's growth between the reading after the warm-up
// cycle and the reading at the end of the last cycle, both taken at the end
// of a clear phase. See the README's Soak section for the figures they were
// set from.
const (
	// Descriptors and goroutines are exact counts, and at the end of a
	// clear phase everything a fault opened or started should be gone:
	// growth beyond the one HTTP connection or request that may be in
	// flight is a leak. Measured: 13 descriptors and 8 goroutines
	// throughout, in every run.
	maxFDGrowth        = 2
	maxGoroutineGrowth = 4
	// Go keeps every OS thread it has made (for cgo calls that block: the
	// hang phase), so the count is the most calls ever blocked at once,
	// which a later hang can raise by one or two. Measured: 8 or 9.
	maxThreadGrowth = 4
	// The live heap after a GC is what entropyd holds in Go memory.
	// Measured: 0.47 to 0.62 MiB throughout; 1 MiB is well above that
	// jitter.
	maxHeapGrowth = 1 << 20
	// Resident anonymous memory (RssAnon), read after entropyd has handed
	// its free heap pages back to the kernel (debug.FreeOSMemory), adds to
	// the live heap the C heap (SoftHSM, the fault module, miekg/pkcs11's
	// buffers) and thread stacks, which a live-heap figure does not show:
	// miekg/pkcs11's leak of the buffer of every failed C_GenerateRandom
	// grew it by 5.6 MiB in 6 minutes of 3-second phases, and by about 1 MB
	// every 5 minutes in the 26-minute run that reported it, while the Go
	// heap stayed flat (entropyd then asked for 64 KiB a call; at its 2 KiB
	// now the same leak would be 32 times slower). Since the fix it moves
	// by 0.3 to 0.6 MiB, and a new thread adds its stack and perhaps a
	// malloc arena. 2 MiB is several times that.
	// (File pages, the binary and libraries as far as they have run, are
	// reported but not bounded: they are shared and cannot leak.)
	maxAnonGrowth = 2 << 20
)

// checkGrowth returns the bounds that end exceeds over start.
func checkGrowth(start, end figures) error {
	var bad []string
	check := func(name string, s, e, bound int64, unit string) {
		if e-s > bound {
			bad = append(bad, fmt.Sprintf("%s grew by %d%s (%d to %d), bound %d%s", name, e-s, unit, s, e, bound, unit))
		}
	}
	check("descriptors", int64(start.FDs), int64(end.FDs), maxFDGrowth, "")
	check("goroutines", int64(start.Goroutines), int64(end.Goroutines), maxGoroutineGrowth, "")
	check("threads", int64(start.Threads), int64(end.Threads), maxThreadGrowth, "")
	check("live heap", start.Heap>>10, end.Heap>>10, maxHeapGrowth>>10, " KiB")
	check("resident anonymous memory", start.Anon>>10, end.Anon>>10, maxAnonGrowth>>10, " KiB")
	if bad != nil {
		return fmt.Errorf("entropyd grew: %s", strings.Join(bad, "; "))
	}
	return nil
}
