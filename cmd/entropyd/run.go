package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
)

// errUsage marks errors in how entropyd was called (exit status 2).
var errUsage = errors.New("usage")

// usageError reports a bad command line.
func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// streams are the standard streams a subcommand uses.
type streams struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// command is one subcommand: add an entry to commands to add one.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, io streams, args []string) error
}

// commands lists the subcommands in the order help shows them.
func commands() []command {
	return []command{
		{"run", "run the daemon: health-test the sources, mix them, feed the kernel", runRun},
		{"check", "open each source, run its start-up health tests, report", runCheck},
		{"sample", "write raw samples from a source to a file, for assess", runSample},
		{"assess", "estimate the min-entropy of recorded samples (SP 800-90B)", runAssess},
		{"version", "print the version", runVersion},
		{"help", "show this help", runHelp},
	}
}

// run dispatches to the subcommand named by args[0].
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	s := streams{stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		writeHelp(stderr)
		return usageError("no command given")
	}
	name := args[0]
	if name == "-h" || name == "-help" || name == "--help" {
		name = "help"
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, s, args[1:])
		}
	}
	return usageError("unknown command %q; run \"entropyd help\"", args[0])
}

// runHelp prints the commands.
func runHelp(_ context.Context, s streams, _ []string) error {
	writeHelp(s.stdout)
	return nil
}

func writeHelp(w io.Writer) {
	fmt.Fprintf(w, "Usage: entropyd <command> [arguments]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun \"entropyd <command> -h\" for a command's options.\n")
}

// runVersion prints the module version entropyd was built from.
func runVersion(_ context.Context, s streams, _ []string) error {
	_, err := fmt.Fprintf(s.stdout, "entropyd %s\n", version())
	return err
}

// version returns the main module's version, "(devel)" for a local build.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
