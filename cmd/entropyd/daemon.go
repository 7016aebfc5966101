package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/hsmentropy/hsmentropy/internal/engine"
	"github.com/hsmentropy/hsmentropy/kernelfeed"
)

// runRun is entropyd run: it loads the configuration, runs the daemon, and
// runs it again with the new configuration on SIGHUP.
func runRun(ctx context.Context, s streams, args []string) error {
	cfg, _, err := loadConfig("run", args, os.LookupEnv, s.stdout)
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		log := newLogger(s.stderr, cfg.logFormat, cfg.logLevel)
		next, err := serve(ctx, cfg, log, hup, func() (*runConfig, error) {
			c, _, err := loadConfig("run", args, os.LookupEnv, s.stderr)
			return c, err
		})
		if next == nil {
			return err
		}
		log.Info("configuration reloaded")
		cfg = next
	}
}

// openFeeders opens /dev/random twice (engine.Feeders); with --no-feed it
// opens nothing.
func openFeeders(cfg *runConfig) (*engine.Feeders, error) {
	if cfg.noFeed {
		return nil, nil
	}
	c, err := kernelfeed.Open(kernelfeed.Config{Device: cfg.device, BitsPerByte: cfg.creditBits, Reseed: cfg.reseedCRNG})
	if err != nil {
		return nil, fmt.Errorf("%w (use --no-feed for a dry run)", err)
	}
	u, err := kernelfeed.Open(kernelfeed.Config{Device: cfg.device, Reseed: cfg.reseedCRNG})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%w", err)
	}
	return &engine.Feeders{Credited: c, Uncredited: u}, nil
}

// serve runs the daemon for cfg until ctx is done (nil, nil), every source
// has failed (nil, engine.ErrAllFailed: exit status 1, where rngd exits 0),
// or SIGHUP brings a valid new configuration (it, nil).
func serve(ctx context.Context, cfg *runConfig, log *slog.Logger, hup <-chan os.Signal, reload func() (*runConfig, error)) (*runConfig, error) {
	feeders, err := openFeeders(cfg)
	if err != nil {
		return nil, err
	}
	defer feeders.Close()
	e, err := newEngine(ctx, cfg, feeders, log)
	if err != nil {
		return nil, err
	}
	defer e.Stop()
	stopHTTP, err := startHTTP(cfg.listen, e, log, cfg.debugPprof)
	if err != nil {
		return nil, err
	}
	defer stopHTTP()
	log.Info("starting", "version", version(), "sources", e.String(), "listen", cfg.listen, "dry_run", cfg.noFeed)
	if note := cfg.noHSMNote(); note != "" {
		log.Warn(note)
	}
	e.Start(ctx)
	if err := e.Begin(ctx); err != nil {
		return nil, err
	}
	if cfg.once {
		return nil, nil
	}
	notify(log, "READY=1\nSTATUS=feeding the kernel")
	return loop(ctx, e, log, hup, reload)
}

// loop runs the engine until ctx is done, every source has failed, or SIGHUP
// brings a new configuration.
func loop(ctx context.Context, e *engine.Engine, log *slog.Logger, hup <-chan os.Signal, reload func() (*runConfig, error)) (*runConfig, error) {
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- e.Run(rctx) }()
	stopping := func() {
		log.Info("stopping", "reason", context.Cause(ctx))
		notify(log, "STOPPING=1")
	}
	for {
		select {
		case <-ctx.Done():
			stopping()
			stop()
			<-done
			return nil, nil
		case err := <-done:
			if err == nil { // ctx is done
				stopping()
				return nil, nil
			}
			notify(log, "STATUS=every source has failed")
			return nil, err
		case <-hup:
			notify(log, "RELOADING=1")
			next, err := reload()
			if err != nil {
				log.Error("SIGHUP: configuration not reloaded, keeping the old one", "err", err)
				notify(log, "READY=1")
				continue
			}
			stop()
			<-done
			return next, nil
		}
	}
}
