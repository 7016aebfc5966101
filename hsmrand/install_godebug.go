package hsmrand

import (
	"fmt"
	"os"
	"runtime/debug"
	"strings"
)

// godebugCustomRand is the GODEBUG setting that makes crypto/ecdsa,
// crypto/rsa, crypto/ecdh, crypto/dsa, crypto/rand.Prime and
// ed25519.GenerateKey(nil) use the reader they are given (a replaced
// crypto/rand.Reader) in Go 1.26 and later.
const godebugCustomRand = "cryptocustomrand"

// customRand is the GODEBUG setting as the installs that asked for key
// generation hold it: the first turns it on (if it is not on already), the
// last one's release puts GODEBUG back. Guarded by installs.mu.
type customRand struct {
	holders int
	// set is the GODEBUG value Install wrote, "" if it wrote none; old and
	// had are the variable before that.
	set, old string
	had      bool
}

// acquire turns the setting on, unless the environment names it with
// another value, which is the operator's choice and is kept: an error.
func (c *customRand) acquire() error {
	if err := checkCustomRandEnv(); err != nil {
		return err
	}
	c.holders++
	if c.holders > 1 || !customRandKnown || customRandOn() {
		return nil // on already, or (before Go 1.26) not needed
	}
	old, had := os.LookupEnv("GODEBUG")
	set := godebugCustomRand + "=1"
	if old != "" {
		set = old + "," + set // merged: the user's settings stay
	}
	if err := os.Setenv("GODEBUG", set); err != nil {
		c.holders--
		return fmt.Errorf("hsmrand: Install: setting GODEBUG: %w", err)
	}
	c.set, c.old, c.had = set, old, had
	return nil
}

// release lets go of the setting; the last holder puts GODEBUG back as it
// was, unless it was changed since (then it is not ours to undo).
func (c *customRand) release() {
	c.holders--
	if c.holders > 0 || c.set == "" {
		return
	}
	if os.Getenv("GODEBUG") == c.set {
		if c.had {
			os.Setenv("GODEBUG", c.old)
		} else {
			os.Unsetenv("GODEBUG")
		}
	}
	c.set, c.old, c.had = "", "", false
}

// checkCustomRandEnv refuses key generation through the Reader when the
// GODEBUG variable sets cryptocustomrand to anything but 1.
func checkCustomRandEnv() error {
	if !customRandKnown {
		return nil
	}
	if v, ok := godebugValue(os.Getenv("GODEBUG"), godebugCustomRand); ok && v != "1" {
		return fmt.Errorf("hsmrand: Install: GODEBUG sets %s=%s, so Go's key generation stays on Go's own generator as the environment asks; install without InstallOptions.KeyGeneration, or remove the setting from GODEBUG",
			godebugCustomRand, v)
	}
	return nil
}

// customRandOn reports whether cryptocustomrand=1 is in effect: the GODEBUG
// variable's value if it names the setting, else the binary's default
// (a //go:debug line, a godebug block, or a go.mod that says go 1.25 or
// older: the go command records it as DefaultGODEBUG).
func customRandOn() bool {
	if v, ok := godebugValue(os.Getenv("GODEBUG"), godebugCustomRand); ok {
		return v == "1"
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "DefaultGODEBUG" {
				v, _ := godebugValue(s.Value, godebugCustomRand)
				return v == "1"
			}
		}
	}
	return false
}

// keysFollowReader reports whether Go's key generation uses the reader it
// is passed, crypto/rand.Reader included: always before Go 1.26, and with
// cryptocustomrand=1 since.
func keysFollowReader() bool { return !customRandKnown || customRandOn() }

// godebugValue returns the value the GODEBUG string v (k=v,k2=v2) gives
// key; the last one counts, as in the runtime, which does not trim spaces.
func godebugValue(v, key string) (val string, ok bool) {
	for kv := range strings.SplitSeq(v, ",") {
		if k, x, found := strings.Cut(kv, "="); found && k == key {
			val, ok = x, true
		}
	}
	return val, ok
}

// Environ returns os.Environ() without what Install added to GODEBUG, for
// the Env of an exec.Cmd: a child process started with the plain
// environment inherits cryptocustomrand=1, and with it Go's key generation
// in the child uses every reader it is passed (and panics on a nil one).
func Environ() []string {
	env := os.Environ()
	installs.mu.Lock()
	c := installs.godebug
	installs.mu.Unlock()
	if c.set == "" {
		return env
	}
	out := env[:0]
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok && v == c.set {
			if c.had {
				out = append(out, "GODEBUG="+c.old)
			}
			continue
		}
		out = append(out, kv)
	}
	return out
}
