// Command entropyd draws randomness from an HSM and other sources, health
// tests it per SP 800-90B and feeds the Linux kernel; its assess subcommand
// estimates the min-entropy of recorded samples per SP 800-90B.
//
// Usage:
//
//	entropyd <command> [arguments]
//
// Run "entropyd help" for the list of commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "entropyd:", err)
		os.Exit(exitStatus(err))
	}
}
