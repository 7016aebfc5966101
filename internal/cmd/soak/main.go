// Command soak runs entropyd and an hsmrand Reader for a long time against a
// SoftHSM token behind the fault module (internal/faultp11), with faults
// cycling, and fails when entropyd grows or a 32-byte read repeats. make soak
// runs it for SOAK (default 3m); CI runs a few minutes, the README records
// an hour.
//
//	soak -entropyd bin/entropyd -module bin/libfaultp11.so [-duration 3m]
//
// # What runs
//
// One token, reached by both processes through libfaultp11.so, whose control
// file this program rewrites every -phase (10 s): the cycle in faults.go
// (latency, device errors, a removed token, corrupt output, heavy-tailed
// latency, session invalidation, a hang) with clear phases between. entropyd
// runs with the token at a 200 ms feed interval, --debug-pprof (for its
// goroutine count and heap) and --no-feed unless this program runs as root.
// In this process -readers goroutines (16) Read 32 bytes at a time through
// one Degrade Reader of the same token.
//
// # What is measured, and the bounds
//
// The first whole cycle is the warm-up: every fault has then happened once,
// so the thread pool, the heap and the allocator's arenas have met every
// path. entropyd's figures are taken after it and at the end of the last
// whole cycle, both times at the end of a clear phase (no call hangs, no
// fault is injected), and every -sample interval in between for the log:
// resident memory (VmRSS, and its anonymous part RssAnon), the live Go heap
// after a GC, goroutines, threads and open descriptors. The run fails when
// any of them grew between the two by more than its bound (bounds.go, which
// says why each bound is what it is). Two cycles, as CI runs, catch a leak
// of goroutines, threads or descriptors; slow memory leaks need the long
// run.
//
// Every 32-byte read's first 16 bytes go into a set of the last 2-4 million
// (two generations of -window entries, so memory stays bounded); any repeat
// fails the run. For uniform 16-byte strings a repeat among n has
// probability about n²/2^129 (10^-25 for 10^7 reads): a repeat means a
// repeated output, not chance.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	var cfg config
	flag.DurationVar(&cfg.duration, "duration", 3*time.Minute, "how long to run, rounded up to whole fault cycles (at least two)")
	flag.DurationVar(&cfg.phase, "phase", 10*time.Second, "how long each phase of the fault cycle lasts")
	flag.DurationVar(&cfg.sample, "sample", time.Minute, "log entropyd's figures this often")
	flag.StringVar(&cfg.entropyd, "entropyd", "bin/entropyd", "the entropyd binary")
	flag.StringVar(&cfg.module, "module", "bin/libfaultp11.so", "the fault module (make faultp11)")
	flag.IntVar(&cfg.readers, "readers", 16, "goroutines reading 32 bytes at a time through hsmrand")
	flag.IntVar(&cfg.window, "window", 2<<20, "32-byte reads per generation of the duplicate set")
	flag.StringVar(&cfg.out, "out", "", "keep entropyd's log and heap profiles in `DIR` (default: a temporary directory, removed on success)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "soak: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("soak: PASS")
}
