package p11

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
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

// NewPool makes a Pool of tokens that are already open. The Pool takes
// them over: Pool.Close closes them.
func NewPool(tokens ...*Token) *Pool {
	return &Pool{tokens: tokens}
}

// GenerateRandom fills p from one healthy token, trying the others in turn
// when it fails. When every token is down it waits, until the first back-off
// ends or ctx is done. It returns an error only when ctx is done or every
// token has failed for good; p is then zeroed.
func (p *Pool) GenerateRandom(ctx context.Context, b []byte) error {
	n := uint64(len(p.tokens))
	if n == 0 {
		return ErrClosed
	}
	for {
		start := p.next.Add(1)
		var errs []error
		alive := false
		for i := range n {
			t := p.tokens[(start+i)%n]
			err := t.GenerateRandom(ctx, b)
			if err == nil {
				return nil
			}
			if ctx.Err() != nil {
				return fmt.Errorf("p11: %w", ctx.Err())
			}
			errs = append(errs, err)
			alive = alive || !isFatal(err)
		}
		if !alive {
			return fmt.Errorf("p11: every token has failed for good: %w", errors.Join(errs...))
		}
		if err := p.wait(ctx); err != nil {
			return err
		}
	}
}

// wait sleeps until the earliest back-off ends, or ctx is done. When no
// token is backing off (every one failed in a way that does not take it
// down, such as sessions closed twice in a row), it waits the shortest
// BackoffMin, so that the Pool never spins on a failing HSM.
func (p *Pool) wait(ctx context.Context) error {
	var until time.Time
	floor := time.Duration(0)
	for _, t := range p.tokens {
		t.mu.Lock()
		if t.state == StateDown && (until.IsZero() || t.retryAt.Before(until)) {
			until = t.retryAt
		}
		if floor == 0 || t.cfg.BackoffMin < floor {
			floor = t.cfg.BackoffMin
		}
		t.mu.Unlock()
	}
	d := time.Until(until)
	if until.IsZero() {
		d = floor
	}
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("p11: waiting for a token: %w", ctx.Err())
	case <-timer.C:
		return nil
	}
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
