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
		{"version", "print the version (also --version)", runVersion},
		{"help", "show this help, or a command's (help <command>)", runHelp},
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
	switch {
	case isHelpFlag(name):
		name = "help"
	case name == "-version" || name == "--version":
		name = "version"
	}
	for _, c := range commands() {
		switch {
		case c.name != name:
			continue
		case (name == "help" || name == "version") && len(args) > 1 && isHelpFlag(args[1]):
			_, err := fmt.Fprintf(s.stdout, "entropyd %s: %s.\n\nUsage: entropyd %s\n", c.name, c.summary, c.name)
			return err
		}
		return c.run(ctx, s, args[1:])
	}
	return usageError("unknown command %q; run \"entropyd help\"", args[0])
}

// isHelpFlag reports whether arg asks for help.
func isHelpFlag(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help"
}

// runHelp prints the commands, or with a command's name that command's
// help.
func runHelp(ctx context.Context, s streams, args []string) error {
	switch {
	case len(args) == 0:
		writeHelp(s.stdout)
		return nil
	case len(args) > 1 || args[0] == "help":
		return usageError("help takes at most one command name, got %q", args)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, s, []string{"--help"})
		}
	}
	return usageError("unknown command %q; run \"entropyd help\"", args[0])
}

// entropydDoc opens entropyd's help: what it is.
const entropydDoc = `entropyd draws randomness from an HSM (any PKCS#11 token) and other
sources, health-tests it per SP 800-90B, mixes it with the operating
system's randomness in an SP 800-90A CTR_DRBG and feeds the Linux kernel's
random pool. It never emits raw HSM bytes. Its assess command estimates the
min-entropy of recorded samples per SP 800-90B.`

func writeHelp(w io.Writer) {
	fmt.Fprintf(w, "%s\n\nUsage: entropyd <command> [options]\n\nCommands:\n", entropydDoc)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\n\"entropyd <command> --help\" (or \"entropyd help <command>\") says what a\ncommand does and lists its options; \"entropyd --version\" prints the version.\n\n%s\n", exitStatusDoc)
}

// runVersion prints the module version entropyd was built from.
func runVersion(_ context.Context, s streams, args []string) error {
	if len(args) > 0 {
		return usageError("version takes no arguments, got %q", args)
	}
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
