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

// loadConfig parses the arguments of cmd ("run" or "check") into a
// runConfig and fills every option not given as a flag from its environment
// variable (set, even empty, counts), then from the configuration file:
// flags win over the environment, which wins over the file. It records where
// each option came from, for error messages. With -h or --help it prints
// cmd's help to stdout and returns flag.ErrHelp.
func loadConfig(cmd string, args []string, lookupEnv func(string) (string, bool), stdout io.Writer) (*runConfig, *flag.FlagSet, error) {
	c := &runConfig{origin: map[string]string{}}
	fs := newFlagSet(cmd, c)
	if err := fs.Parse(args); err != nil {
		if isHelp(err) {
			writeUsage(stdout, cmd, fs)
			return nil, nil, err
		}
		return nil, nil, flagError(cmd, fs, err)
	}
	if fs.NArg() > 0 {
		return nil, nil, usageError("entropyd %s takes no arguments, got %q", cmd, fs.Args())
	}
	fs.Visit(func(f *flag.Flag) { c.origin[f.Name] = "--" + f.Name })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		env := envPrefix + envName(f.Name)
		if v, ok := lookupEnv(env); ok && c.origin[f.Name] == "" && err == nil {
			if setErr := fs.Set(f.Name, v); setErr != nil {
				err = usageError("invalid value %q for %s: %v%s", v, env, setErr, wantedValue(f))
			}
			c.origin[f.Name] = env
		}
	})
	if err != nil {
		return nil, nil, err
	}
	if c.configFile != "" {
		if err := c.applyFile(cmd, fs); err != nil {
			return nil, nil, err
		}
	}
	if err := c.validate(); err != nil {
		return nil, nil, err
	}
	return c, fs, nil
}

// applyFile sets, from the configuration file, the options not given. The
// file is shared by run and check: check ignores run's other options.
func (c *runConfig) applyFile(cmd string, fs *flag.FlagSet) error {
	name := c.from("config")
	f, err := os.Open(c.configFile)
	if err != nil {
		return usageError("%s: %v", name, err) // the error names the file
	}
	defer f.Close()
	settings, err := parseConfigFile(f)
	if err != nil {
		return usageError("%s: %s: %v", name, c.configFile, err)
	}
	for _, s := range settings {
		at := fmt.Sprintf("%s:%d", c.configFile, s.line)
		switch {
		case s.name == "pin":
			return usageError("%s: a PIN is read only from --pin-file or %s", at, pinEnv)
		case s.name == "config":
			return usageError("%s: config cannot name another file", at)
		case fs.Lookup(s.name) == nil && isOption(s.name) && !takes(cmd, s.name):
			continue // run's option, not cmd's
		case fs.Lookup(s.name) == nil:
			return usageError("%s: unknown option %q", at, s.name)
		case c.origin[s.name] != "":
			continue
		}
		if err := fs.Set(s.name, s.value); err != nil {
			return usageError("%s: invalid value %q for %s: %v%s", at, s.value, s.name, err, wantedValue(fs.Lookup(s.name)))
		}
		c.origin[s.name] = at + " " + s.name
	}
	return nil
}
