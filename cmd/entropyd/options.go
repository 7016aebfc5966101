package main

import (
	"flag"
	"slices"
)

// optionGroup is a heading of --help and of the man page, with its options
// in the order shown.
type optionGroup struct {
	title string
	names []string
}

// optionGroups is the table of run's and check's options: every option
// runConfig.register declares appears once (TestOptionTable), and an
// option check does not use is in runOnly.
func optionGroups() []optionGroup {
	return []optionGroup{
		{"General", []string{"config", "log-format", "log-level"}},
		{"Sources", []string{"os", "hwrng", "hwrng-device", "hwrng-rate", "hwrng-chunk", "file", "file-rate", "file-chunk"}},
		{"PKCS#11 token", []string{"pkcs11-uri", "pkcs11-from-env", "pin-file", "pkcs11-rate", "pkcs11-chunk", "pkcs11-max-request", "pkcs11-probe-interval"}},
		{"Feeding the kernel", []string{"feed-interval", "feed-bytes", "credit-bits", "reseed-crng", "device", "once", "no-feed"}},
		{"Timing", []string{"startup-timeout", "source-timeout", "restore-after"}},
		{"Serving", []string{"listen", "debug-pprof"}},
	}
}

// runOnly lists the options of run that check does not take: check opens
// the sources once, runs their start-up tests and tries the feeding device,
// so it neither feeds, nor serves, nor restores.
func runOnly() []string {
	return []string{"feed-interval", "feed-bytes", "credit-bits", "reseed-crng", "once", "restore-after", "listen", "debug-pprof"}
}

// takes reports whether the subcommand cmd ("run" or "check") has option
// name.
func takes(cmd, name string) bool {
	return cmd == "run" || !slices.Contains(runOnly(), name)
}

// isOption reports whether name is an option of run.
func isOption(name string) bool {
	for _, g := range optionGroups() {
		if slices.Contains(g.names, name) {
			return true
		}
	}
	return false
}

// newFlagSet declares, on a new FlagSet, the options of cmd bound to c. An
// option cmd does not take keeps its default in c.
func newFlagSet(cmd string, c *runConfig) *flag.FlagSet {
	all := flag.NewFlagSet(cmd, flag.ContinueOnError)
	c.register(all)
	fs := quietFlagSet(cmd)
	for _, g := range optionGroups() {
		for _, name := range g.names {
			if f := all.Lookup(name); f != nil && takes(cmd, name) {
				fs.Var(f.Value, f.Name, f.Usage)
			}
		}
	}
	return fs
}
