package main

import (
	"context"
	"log/slog"

	"github.com/hsmentropy/hsmentropy/internal/engine"
)

// sourceKind is one kind of source entropyd can be configured with: to add
// one, write its engine.Source (one file in internal/engine) and add its
// kind to sourceKinds.
type sourceKind func(ctx context.Context, cfg *runConfig, log *slog.Logger) ([]engine.Spec, error)

// sourceKinds lists the kinds in a stable order: hwrng, the files, the
// PKCS#11 token.
func sourceKinds() []sourceKind {
	return []sourceKind{hwrngSources, fileSources, pkcs11Sources}
}

// newSources opens the sources cfg names. On error it closes those opened.
func newSources(ctx context.Context, cfg *runConfig, log *slog.Logger) ([]engine.Spec, error) {
	var specs []engine.Spec
	for _, kind := range sourceKinds() {
		s, err := kind(ctx, cfg, log)
		if err != nil {
			engine.CloseSources(specs)
			return nil, err
		}
		specs = append(specs, s...)
	}
	return specs, nil
}

// hwrngSources is the hardware RNG with --hwrng.
func hwrngSources(_ context.Context, cfg *runConfig, _ *slog.Logger) ([]engine.Spec, error) {
	if !cfg.hwrng {
		return nil, nil
	}
	return []engine.Spec{{Source: engine.NewFileSource(engine.HwrngName, cfg.hwrngPath), Chunk: cfg.hwrngChunk, Rate: cfg.hwrngRate}}, nil
}

// fileSources are the --file sources.
func fileSources(_ context.Context, cfg *runConfig, _ *slog.Logger) ([]engine.Spec, error) {
	var specs []engine.Spec
	for _, path := range cfg.fileList() {
		specs = append(specs, engine.Spec{Source: engine.NewFileSource("", path), Chunk: cfg.fileChunk, Rate: cfg.fileRate})
	}
	return specs, nil
}

// pkcs11Sources is the token of --pkcs11-uri or --pkcs11-from-env.
func pkcs11Sources(ctx context.Context, cfg *runConfig, log *slog.Logger) ([]engine.Spec, error) {
	if cfg.pkcs11URI == "" && !cfg.pkcs11FromEnv {
		return nil, nil
	}
	tok, err := openPKCS11(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	return []engine.Spec{{Source: tok, Chunk: cfg.pkcs11Chunk, Rate: cfg.pkcs11Rate}}, nil
}

// newEngine opens the sources and builds the engine for cfg; feeders nil is
// a dry run. On error it closes what it opened.
func newEngine(ctx context.Context, cfg *runConfig, feeders *engine.Feeders, log *slog.Logger) (*engine.Engine, error) {
	specs, err := newSources(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	e, err := engine.New(engine.Config{
		Sources: specs, UseOS: cfg.useOS, Feeders: feeders,
		FeedInterval: cfg.feedInterval, FeedBytes: cfg.feedBytes, CreditBits: cfg.creditBits,
		StartupTimeout: cfg.startupTimeout, SourceTimeout: cfg.sourceTimeout, RestoreAfter: cfg.restoreAfter,
		Log: log,
	})
	if err != nil {
		engine.CloseSources(specs)
		return nil, err
	}
	return e, nil
}
