package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// runDoc and checkDoc open run's and check's --help: what the command does.
const (
	runDoc = `entropyd run draws random bytes from the configured sources (a PKCS#11
token, the hardware RNG, files or FIFOs, and the operating system),
health-tests each per SP 800-90B, mixes them in an SP 800-90A CTR_DRBG and
feeds the result to the Linux kernel's random pool every --feed-interval.
It serves Prometheus metrics, /healthz and /readyz on --listen, and
re-reads its configuration on SIGHUP.`

	checkDoc = `entropyd check opens each configured source once, runs its SP 800-90B
start-up health tests, checks that the kernel can be fed, prints a report
and exits. It fails when any of it failed. It takes run's source options,
so "entropyd check" with run's configuration checks what run would use.`
)

// exitStatusDoc documents the exit statuses of every command.
const exitStatusDoc = `Exit status: 0 success; 1 a runtime failure (a source, the kernel, a
failed check); 2 a usage or configuration error (a bad option, variable,
configuration file or URI attribute); 3 the token refused the PIN, or the
PIN is locked (not worth restarting: retries lock tokens).`

// optionsDoc says where options come from.
const optionsDoc = `Every option can also be set in the environment (ENTROPYD_ and the name in
capitals, - as _) or in the file named by --config (lines "name = value");
a flag wins over the environment, which wins over the file. The token PIN
is read only from --pin-file or ` + pinEnv + `, never from a flag or the
file, and never printed.`

// usageWidth is the width --help wraps its text to.
const usageWidth = 74

// writeUsage prints the --help of run or check: what it does, its options
// by group, and the exit statuses.
func writeUsage(w io.Writer, cmd string, fs *flag.FlagSet) {
	doc := runDoc
	if cmd == "check" {
		doc = checkDoc
	}
	fmt.Fprintf(w, "%s\n\nUsage: entropyd %s [options]\n\n%s\n", doc, cmd, optionsDoc)
	for _, g := range optionGroups() {
		header := false
		for _, name := range g.names {
			f := fs.Lookup(name)
			if f == nil {
				continue
			}
			if !header {
				fmt.Fprintf(w, "\n%s:\n", g.title)
				header = true
			}
			typ, text := flag.UnquoteUsage(f)
			fmt.Fprintf(w, "  --%s", f.Name)
			if typ != "" {
				fmt.Fprintf(w, " %s", typ)
			}
			fmt.Fprintf(w, "  (%s%s)\n", envPrefix, envName(f.Name))
			if f.DefValue != "" && f.DefValue != "false" {
				text += " (default " + f.DefValue + ")"
			}
			for _, line := range wrap(text, usageWidth-8) {
				fmt.Fprintf(w, "        %s\n", line)
			}
		}
	}
	fmt.Fprintf(w, "\n%s\n", exitStatusDoc)
}

// wrap breaks text into lines of at most width bytes, at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	return append(lines, line)
}

// flagErrors rewrite the flag package's messages, which spell options with
// one dash, in entropyd's terms.
var flagErrors = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`^flag provided but not defined: -+(.*)$`), "unknown option --$1"},
	{regexp.MustCompile(`^invalid (?:boolean )?value (".*") for (?:flag )?-+([^:]*): (.*)$`), "invalid value $1 for --$2: $3"},
	{regexp.MustCompile(`^flag needs an argument: -+(.*)$`), "--$1 needs a value"},
	{regexp.MustCompile(`^bad flag syntax: (.*)$`), "bad option syntax: $1"},
}

// flagError turns an error of fs.Parse into a usage error in entropyd's
// terms, with what the option's value should look like.
func flagError(cmd string, fs *flag.FlagSet, err error) error {
	msg := err.Error()
	for _, fe := range flagErrors {
		if fe.re.MatchString(msg) {
			msg = fe.re.ReplaceAllString(msg, fe.repl)
			break
		}
	}
	if m := flagErrors[1].re.FindStringSubmatch(err.Error()); m != nil {
		if f := fs.Lookup(m[2]); f != nil {
			msg += wantedValue(f)
		}
	}
	return usageError("%s; \"entropyd %s --help\" lists the options", msg, cmd)
}

// wantedValue describes the values an option takes, from its type.
func wantedValue(f *flag.Flag) string {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return ""
	}
	switch g.Get().(type) {
	case bool:
		return " (want true or false)"
	case time.Duration:
		return " (want a duration such as 500ms, 10s, 5m or 1h)"
	case int, int64:
		return " (want a whole number)"
	case float64:
		return " (want a number)"
	}
	return ""
}

// quietFlagSet returns a FlagSet for subcommand cmd that prints nothing by
// itself: its parse errors reach the user as flagError's one line, and the
// subcommand prints its help when Parse returns flag.ErrHelp.
func quietFlagSet(cmd string) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// isHelp reports whether err is the flag package's answer to -h or --help.
func isHelp(err error) bool { return errors.Is(err, flag.ErrHelp) }
