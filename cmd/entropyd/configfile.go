package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxConfigLine bounds one line of a configuration file.
const maxConfigLine = 4096

// setting is one "name = value" line of a configuration file.
type setting struct {
	name, value string
	line        int
}

// parseConfigFile reads lines "name = value": names are flag names, blank
// lines and lines starting with # are ignored, and a value may be put in
// double quotes (no escapes) to keep surrounding spaces.
func parseConfigFile(r io.Reader) ([]setting, error) {
	var out []setting
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxConfigLine)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: want \"name = value\"", n)
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if name == "" || strings.ContainsFunc(name, func(r rune) bool { return !(r == '-' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }) {
			return nil, fmt.Errorf("line %d: %q is not an option name", n, name)
		}
		if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			value = value[1 : len(value)-1]
		} else if strings.ContainsRune(value, '"') {
			return nil, fmt.Errorf("line %d: unbalanced quote", n)
		}
		out = append(out, setting{name: name, value: value, line: n})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("a line is longer than %d bytes", maxConfigLine)
		}
		return nil, err
	}
	return out, nil
}

// loadConfig parses args into a runConfig and fills every option not given
// as a flag from its environment variable (set, even empty, counts), then from
// the configuration file: flags win over the environment, which wins over the
// file.
func loadConfig(name string, args []string, lookupEnv func(string) (string, bool), stderr io.Writer) (*runConfig, *flag.FlagSet, error) {
	c := new(runConfig)
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.register(fs)
	fs.Usage = func() { writeRunUsage(fs, name) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil, err
		}
		return nil, nil, usageError("%v", err)
	}
	if fs.NArg() > 0 {
		return nil, nil, usageError("entropyd %s takes no arguments, got %q", name, fs.Args())
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		env := envPrefix + envName(f.Name)
		if v, ok := lookupEnv(env); ok && !given[f.Name] && err == nil {
			if setErr := fs.Set(f.Name, v); setErr != nil {
				err = usageError("invalid value %q for %s (--%s): %v", v, env, f.Name, setErr)
			}
			given[f.Name] = true
		}
	})
	if err != nil {
		return nil, nil, err
	}
	if c.configFile != "" {
		if err := c.applyFile(fs, given); err != nil {
			return nil, nil, err
		}
	}
	if err := c.validate(); err != nil {
		return nil, nil, err
	}
	return c, fs, nil
}

// applyFile sets, from the configuration file, the options not given.
func (c *runConfig) applyFile(fs *flag.FlagSet, given map[string]bool) error {
	f, err := os.Open(c.configFile)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	settings, err := parseConfigFile(f)
	if err != nil {
		return usageError("config file %s: %v", c.configFile, err)
	}
	for _, s := range settings {
		switch {
		case s.name == "pin":
			return usageError("config file %s:%d: a PIN is read only from --pin-file or %s", c.configFile, s.line, pinEnv)
		case s.name == "config":
			return usageError("config file %s:%d: config cannot name another file", c.configFile, s.line)
		case fs.Lookup(s.name) == nil:
			return usageError("config file %s:%d: unknown option %q", c.configFile, s.line, s.name)
		case given[s.name]:
			continue
		}
		if err := fs.Set(s.name, s.value); err != nil {
			return usageError("config file %s:%d: invalid value %q for %s: %v", c.configFile, s.line, s.value, s.name, err)
		}
	}
	return nil
}

// writeRunUsage documents every option with its environment variable.
func writeRunUsage(fs *flag.FlagSet, name string) {
	w := fs.Output()
	fmt.Fprintf(w, "Usage: entropyd %s [options]\n\n", name)
	fmt.Fprintf(w, "Every option can also be set in the environment (ENTROPYD_ and the name in\n")
	fmt.Fprintf(w, "capitals, - as _) or in the file named by --config; a flag wins over the\n")
	fmt.Fprintf(w, "environment, which wins over the file. The token PIN is read only from\n")
	fmt.Fprintf(w, "--pin-file or %s, never from a flag, and never printed.\n\nOptions:\n", pinEnv)
	fs.VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  --%s", f.Name)
		if typ != "" {
			fmt.Fprintf(w, " %s", typ)
		}
		fmt.Fprintf(w, "  (%s%s)\n    \t%s", envPrefix, envName(f.Name), usage)
		if f.DefValue != "" && f.DefValue != "false" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}
