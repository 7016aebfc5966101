// Command hsmrand-stream writes hsmrand Reader output to standard output,
// for statistical test suites (make quality: dieharder and ent). It opens
// the token that HSMRAND_URI (or Vault's VAULT_HSM_* variables) names, as
// hsmrand.ConfigFromEnv reads them, and reads in a cycle of sizes that
// covers both of the mixer's paths (served from a shard's buffer, and
// generated straight into the caller's slice).
//
//	hsmrand-stream [-bytes N]
//
// With -bytes 0 (the default) it writes until standard output is closed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hsmentropy/hsmentropy/hsmrand"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hsmrand-stream:", err)
		os.Exit(1)
	}
}

// sizes are the read sizes used in turn.
var sizes = []int{32, 4096, 64 << 10, 48, 1 << 20, 100}

func run() error {
	n := flag.Int64("bytes", 0, "bytes to write; 0 means until standard output is closed")
	flag.Parse()
	// A closed pipe is the reader saying it has enough: make the write
	// fail with EPIPE rather than kill the process.
	signal.Ignore(syscall.SIGPIPE)
	if *n < 0 {
		return fmt.Errorf("-bytes %d is negative", *n)
	}
	cfg, err := hsmrand.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := hsmrand.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer r.Close()
	buf := make([]byte, 1<<20)
	defer clear(buf)
	for i, left := 0, *n; *n == 0 || left > 0; i++ {
		k := sizes[i%len(sizes)]
		if *n > 0 {
			k = int(min(int64(k), left))
		}
		if _, err := r.Read(buf[:k]); err != nil {
			return err
		}
		if _, err := os.Stdout.Write(buf[:k]); err != nil {
			if errors.Is(err, syscall.EPIPE) {
				return nil // the test suite has read enough
			}
			return err
		}
		clear(buf[:k])
		left -= int64(k)
	}
	st := r.Stats()
	fmt.Fprintf(os.Stderr, "hsmrand-stream: %d bytes, state %v, %d HSM calls, %d reseeds\n", st.BytesServed, st.State, st.HSMCalls, st.Reseeds)
	return nil
}
