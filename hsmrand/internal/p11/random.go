package p11

import (
	"context"
	"fmt"
	"time"

	"github.com/miekg/pkcs11"
)

// GenerateRandom fills p with random bytes from the token's RNG
// (C_GenerateRandom), in calls of at most the token's request limit
// ([MaxChunk], Config.MaxRequest, or less once the token refused a larger
// request; see [Stats].MaxRequest), and checks every block (see check.go:
// short, all-zero and repeated blocks are refused).
//
// On error p is zeroed: a partial fill is never left for the caller. The
// error names the PKCS#11 return code and says what happens next; it matches
// [ErrTokenDown] while the token is backing off, [ErrLoginFatal], [ErrNoRNG]
// or [ErrClosed] when it has stopped for good, and [ErrBadBlock] for output
// that fails the checks (the token is then taken down too).
//
// Each block comes in a fresh Go slice (see generate_unix.go), which
// GenerateRandom copies into p and wipes.
func (t *Token) GenerateRandom(ctx context.Context, p []byte) (err error) {
	if len(p) == 0 {
		return nil
	}
	if err := t.enter(ctx); err != nil {
		return err
	}
	defer t.leave()
	defer func() {
		if err != nil {
			clear(p)
		}
	}()
	s, err := t.getSession()
	if err != nil {
		return err
	}
	for rest := p; len(rest) > 0; {
		if err := ctx.Err(); err != nil {
			t.putSession(s)
			return fmt.Errorf("p11: %w", err)
		}
		var limit int
		if s, limit, err = t.current(s); err != nil {
			return err
		}
		var n int
		if s, n, err = t.generate(s, rest[:min(len(rest), limit)]); err != nil {
			return err
		}
		rest = rest[n:]
	}
	t.putSession(s)
	return nil
}

// current returns s, or a new session if s died (its epoch passed) since
// the last chunk, and the request limit.
func (t *Token) current(s session) (session, int, error) {
	t.mu.Lock()
	stale := s.epoch != t.epoch
	limit := t.maxRequestLocked()
	t.mu.Unlock()
	if !stale {
		return s, limit, nil
	}
	s, err := t.getSession()
	return s, limit, err
}

// generate fills the start of dst with one checked block and returns how
// many bytes it filled: all of dst, or fewer when the token refused a
// request that large (see shrink).
func (t *Token) generate(s session, dst []byte) (session, int, error) {
	want := max(len(dst), minDraw)
	s, out, err := t.do(s, "C_GenerateRandom", func(h pkcs11.SessionHandle) ([]byte, error) {
		for {
			b, err := t.generateCall(h, want)
			if err == nil || !t.shrink(&want, err) {
				return b, err
			}
		}
	})
	if err != nil {
		return session{}, 0, err
	}
	n := min(len(dst), want)
	dst = dst[:n]
	tag, err := checkBlock(out, want)
	copy(dst, out)
	clear(out)
	t.mu.Lock()
	switch {
	case err == nil && t.hasLast && tag == t.last:
		err = fmt.Errorf("%w: repeated block: it begins with the same %d bytes as the previous one", ErrBadBlock, tagInput)
	case err == nil:
		t.last, t.hasLast = tag, true
	}
	if err != nil {
		t.st.errors[errName(err)]++
	}
	t.mu.Unlock()
	if err != nil {
		clear(dst)
		t.closeSession(s) // the session works; the output does not
		err = fmt.Errorf("p11: C_GenerateRandom on token %q: %w; the token is taken out of use and tried again after a back-off", t.label, err)
		t.markDown(err, false)
		return session{}, 0, err
	}
	return s, n, nil
}

// generateCall makes one C_GenerateRandom call of n bytes and counts it.
func (t *Token) generateCall(h pkcs11.SessionHandle, n int) ([]byte, error) {
	start := time.Now()
	b, err := t.mod.GenerateRandom(h, n)
	d := time.Since(start)
	t.mu.Lock()
	t.st.calls++
	t.st.latency += d
	t.st.bytes += uint64(len(b))
	t.mu.Unlock()
	return b, err
}

// SeedRandom mixes seed into the token's RNG (C_SeedRandom), in calls of at
// most the token's request limit (which only C_GenerateRandom lowers). An
// empty seed does nothing (miekg/pkcs11 would panic on it). A token that
// does not accept seeds answers CKR_RANDOM_SEED_NOT_SUPPORTED, and the error
// matches errors.ErrUnsupported: seeding is optional and the token stays in
// use.
func (t *Token) SeedRandom(ctx context.Context, seed []byte) error {
	if len(seed) == 0 {
		return nil
	}
	if err := t.enter(ctx); err != nil {
		return err
	}
	defer t.leave()
	s, err := t.getSession()
	if err != nil {
		return err
	}
	t.mu.Lock()
	limit := t.maxRequestLocked()
	t.mu.Unlock()
	for rest := seed; len(rest) > 0; {
		n := min(len(rest), limit)
		chunk := rest[:n]
		s, _, err = t.do(s, "C_SeedRandom", func(h pkcs11.SessionHandle) ([]byte, error) {
			return nil, t.mod.SeedRandom(h, chunk)
		})
		if err != nil {
			return err
		}
		rest = rest[n:]
	}
	t.putSession(s)
	return nil
}
