package main

import (
	"flag"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestOptionTable: every option register declares is in exactly one group
// of the table --help and the man page are made from, and runOnly names
// only options.
func TestOptionTable(t *testing.T) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	new(runConfig).register(fs)
	seen := map[string]int{}
	for _, g := range optionGroups() {
		for _, name := range g.names {
			seen[name]++
			assert.NotNil(t, fs.Lookup(name), "group %q names %q, which is not an option", g.title, name)
		}
	}
	fs.VisitAll(func(f *flag.Flag) {
		assert.Equal(t, 1, seen[f.Name], "--%s in %d groups of optionGroups", f.Name, seen[f.Name])
	})
	for _, name := range runOnly() {
		assert.True(t, isOption(name), "runOnly names %q, which is not an option", name)
	}
	check := newFlagSet("check", new(runConfig))
	for _, name := range runOnly() {
		assert.Nil(t, check.Lookup(name), "check takes run's --%s", name)
	}
}
