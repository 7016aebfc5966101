package hsmrand

import (
	"crypto/rand"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// godebugCustomRand is the GODEBUG setting that makes crypto/ecdsa,
// crypto/rsa, crypto/ecdh, crypto/dsa, crypto/rand.Prime and
// ed25519.GenerateKey(nil) use a replaced crypto/rand.Reader in Go 1.26.
const godebugCustomRand = "cryptocustomrand"

// installedRetry bounds each wait of an installed Reader between attempts,
// when a read failed at once (a sticky failure under FailClosed). A read
// that waits for HSM bytes already waits up to Options.Deadline inside.
const installedRetry = 100 * time.Millisecond

// Install makes r crypto/rand.Reader, and returns restore, which puts back
// the previous crypto/rand.Reader (if nothing replaced r's since) and the
// previous GODEBUG; calling restore again does nothing.
//
// An installed Reader never returns an error, because crypto/rand.Read
// crashes the process when its Reader fails (go.dev/issue/66821). Where r's
// Read would fail, the installed Reader instead blocks until r can serve
// (FailClosed: after a permanent failure, for good) or serves from the OS
// alone (Degrade), as Options.Policy says; Stats.InstalledWaits counts the
// waits. After r's Close, it serves from the Reader it replaced.
//
// Go 1.26's crypto/ecdsa, crypto/rsa, crypto/ecdh, crypto/dsa, rand.Prime
// and ed25519.GenerateKey(nil) ignore crypto/rand.Reader, and any reader
// they are given, unless GODEBUG=cryptocustomrand=1. The runtime reads
// GODEBUG again whenever os.Setenv changes it, so Install appends
// cryptocustomrand=1 to GODEBUG, and restore takes it out again (if
// GODEBUG was not changed since). If the GODEBUG variable already names
// cryptocustomrand, with any value, Install leaves it alone:
// GODEBUG=cryptocustomrand=0 keeps key generation on the standard library's
// source while crypto/rand.Read and ed25519.GenerateKey(r) use r.
//
// Install and restore set a package-level variable of crypto/rand and the
// environment: call them while no other goroutine uses crypto/rand (at
// start-up, at the end of a test), as for any assignment to
// crypto/rand.Reader.
func Install(r *Reader) (restore func()) {
	if r == nil {
		panic("hsmrand: Install(nil)")
	}
	in := &installed{r: r, prev: rand.Reader}
	rand.Reader = in
	undoEnv := enableCustomRand()
	var once sync.Once
	return func() {
		once.Do(func() {
			if rand.Reader == io.Reader(in) {
				rand.Reader = in.prev
			}
			undoEnv()
		})
	}
}

// installed is crypto/rand.Reader while a Reader is installed.
type installed struct {
	r    *Reader
	prev io.Reader
}

// Read fills p and never fails; see Install.
func (in *installed) Read(p []byte) (int, error) {
	for {
		if e := in.r.sticky.Load(); e != nil && e.err == ErrClosed {
			return io.ReadFull(in.prev, p)
		}
		n, err := in.r.Read(p)
		if err == nil {
			return n, nil
		}
		in.r.installedWaits.Add(1)
		in.r.pool.waitChange(installedRetry)
	}
}

// enableCustomRand appends cryptocustomrand=1 to GODEBUG unless GODEBUG
// already names the setting, and returns the undo.
func enableCustomRand() (undo func()) {
	old, had := os.LookupEnv("GODEBUG")
	if godebugNames(old, godebugCustomRand) {
		return func() {}
	}
	set := godebugCustomRand + "=1"
	if old != "" {
		set = old + "," + set
	}
	if os.Setenv("GODEBUG", set) != nil {
		return func() {}
	}
	return func() {
		if os.Getenv("GODEBUG") != set {
			return // changed since: not ours to undo
		}
		if had {
			os.Setenv("GODEBUG", old)
		} else {
			os.Unsetenv("GODEBUG")
		}
	}
}

// godebugNames reports whether the GODEBUG value v (k=v,k2=v2) sets key.
func godebugNames(v, key string) bool {
	for kv := range strings.SplitSeq(v, ",") {
		if k, _, ok := strings.Cut(kv, "="); ok && k == key {
			return true
		}
	}
	return false
}
