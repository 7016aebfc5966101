package p11

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
)

// Pool draws random bytes from several tokens (the nodes of a KMES cluster,
// or two HSMs), spreading requests over the healthy ones in turn and failing
// over when one fails. A token that is down is skipped until its back-off
// ends, then tried again, so it comes back by itself. A token that failed
// for good (wrong PIN, no RNG) stays out. Pool is safe for concurrent use.
type Pool struct {
	tokens []*Token
	next   atomic.Uint64
}

// OpenPool opens a token for each configuration. A configuration error (a
// wrong PIN, no RNG, a missing module) fails OpenPool. A token that is not
// present or not answering starts down and is looked for after its
// back-off, but at least one token must be up now.
func OpenPool(ctx context.Context, cfgs ...Config) (*Pool, error) {
	if len(cfgs) == 0 {
		return nil, errors.New("p11: OpenPool needs at least one configuration")
	}
	p := &Pool{}
	var downs []error
	for i, cfg := range cfgs {
		t, err := open(ctx, cfg, true)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("p11: token %d of %d: %w", i+1, len(cfgs), err)
		}
		p.tokens = append(p.tokens, t)
		if st := t.Stats(); st.State != StateUp {
			downs = append(downs, fmt.Errorf("token %d of %d: %s", i+1, len(cfgs), st.LastError))
		}
	}
	if len(downs) == len(p.tokens) {
		p.Close()
		return nil, fmt.Errorf("%w: no configured token is available: %w", ErrTokenDown, errors.Join(downs...))
	}
	return p, nil
}

// GenerateRandom fills p from one healthy token, trying the others in turn
// when it fails. It never waits for a token: when every token is down (or
// backing off) it returns at once an error that wraps [ErrTokenDown], so
// that the caller's own policy (hsmrand's refiller backs off, and its reads
// degrade or fail at their deadline) sees the outage as it happens.
//
// Permanence is per token: the error is permanent (it wraps the tokens'
// own errors, [ErrLoginFatal] and the like) only when every token has
// failed for good. While one token is merely down, the error wraps only the
// errors of the tokens that are down, and names the ones that failed for
// good in its text, so that a caller testing for a permanent failure does
// not mistake a momentary fault of a live token for the end of the pool.
// Each part of the error names its token. On error p is zeroed.
func (p *Pool) GenerateRandom(ctx context.Context, b []byte) error {
	n := uint64(len(p.tokens))
	if n == 0 {
		return ErrClosed
	}
	start := p.next.Add(1)
	var down, failed []error
	for i := range n {
		k := (start + i) % n
		t := p.tokens[k]
		err := t.GenerateRandom(ctx, b)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("p11: %w", ctx.Err())
		}
		err = fmt.Errorf("token %d of %d (%s): %w", k+1, n, t.cfg.selection(), err)
		if isFatal(err) {
			failed = append(failed, err)
		} else {
			down = append(down, err)
		}
	}
	if len(down) == 0 {
		return fmt.Errorf("p11: every token has failed for good: %w", errors.Join(failed...))
	}
	if len(failed) > 0 {
		return fmt.Errorf("%w: every live token is down or backing off: %w (failed for good, not retried: %v)",
			ErrTokenDown, errors.Join(down...), errors.Join(failed...))
	}
	return fmt.Errorf("%w: every configured token is down or backing off: %w", ErrTokenDown, errors.Join(down...))
}

// SeedRandom gives seed to every token that is up. Tokens that do not
// support seeding are skipped; other failures are returned joined.
func (p *Pool) SeedRandom(ctx context.Context, seed []byte) error {
	var errs []error
	for _, t := range p.tokens {
		if t.Stats().State != StateUp {
			continue
		}
		if err := t.SeedRandom(ctx, seed); err != nil && !errors.Is(err, errors.ErrUnsupported) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Stats returns a snapshot for each token, in configuration order.
func (p *Pool) Stats() []Stats {
	s := make([]Stats, len(p.tokens))
	for i, t := range p.tokens {
		s[i] = t.Stats()
	}
	return s
}

// Close closes every token.
func (p *Pool) Close() error {
	var errs []error
	for _, t := range p.tokens {
		errs = append(errs, t.Close())
	}
	return errors.Join(errs...)
}
