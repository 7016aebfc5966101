package hsmrand

import (
	"crypto/rand"
	"io"
	"sync"
	"time"
)

// installedRetry bounds each wait of an installed Reader between attempts,
// when a read failed at once (a sticky failure under FailClosed). A read
// that waits for HSM bytes already waits up to Options.Deadline inside.
const installedRetry = 100 * time.Millisecond

// InstallOptions says what [Install] changes besides crypto/rand.Reader.
// The zero value (or nil) changes nothing else.
type InstallOptions struct {
	// KeyGeneration makes Go's key generation draw from the Reader too:
	// crypto/ecdsa, crypto/rsa, crypto/ecdh, crypto/dsa, crypto/rand.Prime
	// and ed25519.GenerateKey(nil), which since Go 1.26 ignore every reader
	// unless GODEBUG=cryptocustomrand=1. Install then adds
	// cryptocustomrand=1 to the GODEBUG environment variable, which is
	// process-wide: with it, those functions use whatever reader any code
	// passes them, and ecdh's GenerateKey(nil) and the like panic on the
	// nil reader (Go 1.26 documents nil as fine only without the setting).
	// Child processes started with the environment inherit it: use
	// [Environ] for their exec.Cmd.Env. Install fails if GODEBUG names
	// cryptocustomrand=0 (the environment's choice is kept), and under
	// GODEBUG=fips140=only; under fips140=on the keys are then drawn
	// outside Go's FIPS 140-3 module (see the package doc). Before Go 1.26
	// key generation follows the reader it is passed anyway, and the
	// option changes nothing.
	KeyGeneration bool
}

// Install makes r crypto/rand.Reader, and returns restore, which undoes
// what this call did; calling restore again does nothing. On error nothing
// is changed.
//
// An installed Reader never returns an error, because crypto/rand.Read
// crashes the process when its Reader fails (go.dev/issue/66821). Where r's
// Read would fail, the installed Reader instead blocks until r can serve
// (FailClosed: after a permanent failure, for good) or serves from the OS
// alone (Degrade), as Options.Policy says; Stats.InstalledWaits counts the
// waits. After r's Close, it serves from the Reader it replaced.
//
// Installs nest in any order: the Reader installed last and not yet
// restored is crypto/rand.Reader, restores may come in any order, and the
// GODEBUG setting stays on while any install that asked for it is in
// place. After the last restore, crypto/rand.Reader and GODEBUG are as
// they were before the first Install, unless other code changed them in
// the meantime (then they are left as that code set them).
//
// What Install changes, when it refuses, and how Go 1.25 and 1.26 differ
// is in the package doc ("Installing as crypto/rand.Reader").
//
// Install and restore set a package-level variable of crypto/rand and
// perhaps the environment: call them while no other goroutine uses
// crypto/rand (at start-up, at the end of a test), as for any assignment to
// crypto/rand.Reader.
func Install(r *Reader, opts *InstallOptions) (restore func(), err error) {
	if r == nil {
		panic("hsmrand: Install(nil)")
	}
	var o InstallOptions
	if opts != nil {
		o = *opts
	}
	installs.mu.Lock()
	defer installs.mu.Unlock()
	if err := checkInstall(o); err != nil {
		return nil, err
	}
	in := &installed{r: r, prev: rand.Reader, keygen: o.KeyGeneration}
	if len(installs.stack) == 0 {
		installs.base = rand.Reader
	}
	if in.keygen {
		if err := installs.godebug.acquire(); err != nil {
			return nil, err
		}
	}
	installs.stack = append(installs.stack, in)
	rand.Reader = in
	var once sync.Once
	return func() { once.Do(in.restore) }, nil
}

// Installed returns the Reader that is crypto/rand.Reader through Install
// (the last one installed and not restored), or nil. A program that
// imported hsmrand/autoinstall reads its Reader's Stats through it.
func Installed() *Reader {
	installs.mu.Lock()
	defer installs.mu.Unlock()
	if in, ok := rand.Reader.(*installed); ok {
		return in.r
	}
	return nil
}

// installs is the process's stack of installed Readers: crypto/rand.Reader
// is process-wide, so this is too.
var installs struct {
	mu      sync.Mutex
	stack   []*installed // in the order of Install
	base    io.Reader    // crypto/rand.Reader before the first Install
	godebug customRand   // the GODEBUG setting, held by keygen installs
}

// installed is crypto/rand.Reader while a Reader is installed.
type installed struct {
	r      *Reader
	prev   io.Reader // crypto/rand.Reader at Install: served after r's Close
	keygen bool
}

// restore takes in off the stack. crypto/rand.Reader changes only if it is
// in, which is then the top: the next one down (or what was there before
// the first Install) takes its place.
func (in *installed) restore() {
	installs.mu.Lock()
	defer installs.mu.Unlock()
	s := installs.stack
	for i, e := range s {
		if e == in {
			installs.stack = append(s[:i:i], s[i+1:]...)
			break
		}
	}
	if rand.Reader == io.Reader(in) {
		if n := len(installs.stack); n > 0 {
			rand.Reader = installs.stack[n-1]
		} else {
			rand.Reader = installs.base
		}
	}
	if len(installs.stack) == 0 {
		installs.base = nil
	}
	if in.keygen {
		installs.godebug.release()
	}
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
