package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/hsmentropy/hsmentropy/mixer"
)

// sourceSet is every configured source: the OS source, read on demand as the
// mixer's OS input, and the others (primaries), read by their own workers.
type sourceSet struct {
	os        *osSource
	primaries []*source
	useOS     bool // the OS counts as a source (--os)
	closers   []io.Closer
}

// newSourceSet builds the sources cfg names, in a stable order: hwrng, the
// files, the PKCS#11 token.
func newSourceSet(ctx context.Context, cfg *runConfig, log *slog.Logger, events chan<- event) (*sourceSet, error) {
	set := &sourceSet{useOS: cfg.useOS}
	var err error
	if set.os, err = newOSSource(cfg.restoreAfter, log, events); err != nil {
		return nil, err
	}
	// A source's tested bytes wait at most one feed interval for a feed.
	add := func(name string, open opener, chunk, rate int) error {
		s, err := newSource(name, open, chunk, rate, cfg.restoreAfter, cfg.feedInterval, log, events)
		if err == nil {
			set.primaries = append(set.primaries, s)
		}
		return err
	}
	if cfg.hwrng {
		f := &fileSource{path: cfg.hwrngPath}
		if err := add(hwrngSourceName, f.open, cfg.hwrngChunk, cfg.hwrngRate); err != nil {
			return nil, err
		}
	}
	for _, path := range cfg.fileList() {
		f := &fileSource{path: path}
		if err := add("file:"+path, f.open, cfg.fileChunk, cfg.fileRate); err != nil {
			return nil, err
		}
	}
	if cfg.pkcs11URI != "" || cfg.pkcs11FromEnv {
		tok, err := openPKCS11(ctx, cfg)
		if err != nil {
			return nil, err
		}
		set.closers = append(set.closers, tok)
		if err := add(pkcs11SourceName, tok.open, cfg.pkcs11Chunk, cfg.pkcs11Rate); err != nil {
			set.close()
			return nil, err
		}
		src := set.primaries[len(set.primaries)-1]
		src.hsm = tok.r.Stats
		// Each read is one prediction-resistant hsmrand read: one reseed
		// from mixer.SeedLen fresh HSM bytes. The ring holds a read and
		// what a feed takes (mixer.SeedLen), no more, and its bytes expire
		// after a feed interval: a feed takes output drawn for it, resting
		// on HSM bytes that no other feed used.
		src.ready = newRing(cfg.pkcs11Chunk+mixer.SeedLen, cfg.feedInterval)
		src.inputPerByte = min(1, float64(mixer.SeedLen)/float64(cfg.pkcs11Chunk))
		tok.attach(src)
	}
	return set, nil
}

// close releases what the sources hold open beyond their workers.
func (s *sourceSet) close() {
	for _, c := range s.closers {
		c.Close()
	}
}

// closeWithin is close bounded by d: closing a PKCS#11 source waits for a
// C_GenerateRandom call in flight (PKCS#11 forbids closing a session or
// finalising under one), and a hung HSM may never return it. It reports
// whether every source closed; if not, the close goes on in the
// background and the process may exit without it.
func (s *sourceSet) closeWithin(d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		s.close()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// all returns every source, the OS first.
func (s *sourceSet) all() []*source {
	return append([]*source{s.os.src}, s.primaries...)
}

// allFailed reports whether every source that counts has failed.
func (s *sourceSet) allFailed() bool {
	return s.allPrimariesFailed() && (!s.useOS || s.os.src.getState() == stateFailed)
}

// allPrimariesFailed reports whether every primary has failed.
func (s *sourceSet) allPrimariesFailed() bool {
	for _, p := range s.primaries {
		if p.getState() != stateFailed {
			return false
		}
	}
	return true
}

// anyHealthy reports whether a primary is healthy.
func (s *sourceSet) anyHealthy() bool {
	for _, p := range s.primaries {
		if p.getState() == stateHealthy {
			return true
		}
	}
	return false
}

// String lists the sources' names, separated by commas.
func (s *sourceSet) String() string {
	var names []string
	for _, p := range s.all() {
		names = append(names, p.name)
	}
	return strings.Join(names, ",")
}
