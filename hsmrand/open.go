package hsmrand

import (
	"context"
	"fmt"

	"github.com/hsmentropy/hsmentropy/hsmrand/internal/p11"
)

// Open opens the PKCS#11 token that cfg selects (with cfg.FailoverURIs, a
// pool of tokens that fail over between them), starts the refiller and
// returns a Reader once the token has given bytes that pass the start-up
// health test and seeded every mixer shard. Until then it waits at most
// until ctx ends or cfg.Deadline passes. Every configuration failure is
// returned here with the PKCS#11 function and return code by name and what
// to do: a missing module, no matching token, a token without an RNG, a
// refused PIN (presented once, never retried: retries lock tokens).
//
// Open never modifies cfg, and never prints the PIN in an error.
func Open(ctx context.Context, cfg Config) (*Reader, error) {
	return open(ctx, &cfg, openTokens)
}

// opener opens the token or tokens; tests put a fake in its place.
type opener func(ctx context.Context, cfgs []p11.Config) (source, error)

// openTokens opens one token, or a failover pool of several.
func openTokens(ctx context.Context, cfgs []p11.Config) (source, error) {
	if len(cfgs) == 1 {
		t, err := p11.Open(ctx, cfgs[0])
		if err != nil {
			return nil, err
		}
		return t, nil
	}
	p, err := p11.OpenPool(ctx, cfgs...)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// open is Open with the token opener as a parameter.
func open(ctx context.Context, cfg *Config, openSrc opener) (*Reader, error) {
	// Check the options before the token sees a PIN.
	if _, err := cfg.Options.settings(); err != nil {
		return nil, err
	}
	cfgs, err := cfg.p11Configs()
	if err != nil {
		return nil, err
	}
	src, err := openSrc(ctx, cfgs)
	wipeConfigs(cfgs) // p11 keeps its own copy of the PIN
	if err != nil {
		return nil, fmt.Errorf("hsmrand: open: %w", err)
	}
	return newReader(ctx, src, &cfg.Options)
}
