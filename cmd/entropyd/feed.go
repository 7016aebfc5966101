package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hsmentropy/hsmentropy/kernelfeed"
	"github.com/hsmentropy/hsmentropy/mixer"
)

// feeders feed the kernel: credited with the sources' mixed output, and
// uncredited when only the OS seeded it (crediting the kernel's own bytes
// back to it would count them twice). nil with --no-feed.
type feeders struct {
	credited, uncredited *kernelfeed.Feeder
}

// openFeeders opens /dev/random twice; with --no-feed it opens nothing.
func openFeeders(cfg *runConfig) (*feeders, error) {
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
	return &feeders{credited: c, uncredited: u}, nil
}

func (f *feeders) close() {
	if f != nil {
		f.credited.Close()
		f.uncredited.Close()
	}
}

// stats adds up both feeders' counters.
func (f *feeders) stats() (kernelfeed.Stats, bool) {
	if f == nil {
		return kernelfeed.Stats{}, false
	}
	a, b := f.credited.Stats(), f.uncredited.Stats()
	return kernelfeed.Stats{
		Feeds: a.Feeds + b.Feeds, Bytes: a.Bytes + b.Bytes, CreditedBits: a.CreditedBits + b.CreditedBits,
		Reseeds: a.Reseeds + b.Reseeds, Errors: a.Errors + b.Errors,
		KernelReady: a.KernelReady || b.KernelReady, LastFeedNanos: max(a.LastFeedNanos, b.LastFeedNanos),
	}, true
}

// feedCounters are the daemon's own feed counters, kept with --no-feed too.
type feedCounters struct {
	ok, failed, osOnly atomic.Uint64
	lastNanos          atomic.Int64
}

// feed draws one prediction-resistant request from the mixer, reseeded from
// the sources, and feeds it to the kernel.
func (d *daemon) feed(reason string) error {
	buf := make([]byte, d.cfg.feedBytes)
	defer clear(buf)
	before, creditable := d.mix.Stats().OSOnlySeeds, d.prim.creditable
	if _, err := d.mix.ReadPR(buf); err != nil {
		d.fc.failed.Add(1)
		return fmt.Errorf("drawing from the mixer: %w", err)
	}
	osOnly := d.mix.Stats().OSOnlySeeds != before
	if osOnly {
		d.fc.osOnly.Add(1)
	}
	res := kernelfeed.Result{Bytes: len(buf)}
	if d.feeders == nil {
		res.KernelReady, _ = kernelfeed.KernelReady()
	} else {
		f := d.feeders.credited
		if osOnly {
			f = d.feeders.uncredited
		}
		// The credit never exceeds what the source input drawn for this
		// feed alone can bear (kernelfeed's Crediting rule).
		limit := creditLimit(d.prim.creditable-creditable, d.cfg.creditBits)
		var err error
		if res, err = f.FeedCredited(buf, limit); err != nil {
			d.fc.failed.Add(1)
			return fmt.Errorf("feeding the kernel: %w", err)
		}
	}
	d.fc.ok.Add(1)
	d.fc.lastNanos.Store(time.Now().UnixNano())
	d.log.Info("fed the kernel", "reason", reason, "bytes", res.Bytes, "credited_bits", res.Credited,
		"kernel_ready", res.KernelReady, "reseeded", res.Reseeded, "os_only", osOnly, "dry_run", d.feeders == nil,
		"sources", d.fedFrom())
	return nil
}

// fedFrom lists the sources whose bytes went into the last feed: those of
// the primary input, and the OS, which always supplies the mixer's
// additional input (and after a primary failure seeds it alone).
func (d *daemon) fedFrom() string {
	return strings.Join(append(slices.Clip(d.prim.contributors), osSourceName), ",")
}

// onPrimaryError is the mixer's hook: with the OS counted as a source, seed
// from it alone (counted, and fed uncredited); else fail the feed.
func (d *daemon) onPrimaryError(err error) mixer.Decision {
	if d.cfg.useOS && errors.Is(err, errNoSource) {
		lvl := slog.LevelWarn
		if len(d.set.primaries) == 0 {
			lvl = slog.LevelDebug // the OS is the only source configured
		}
		d.log.Log(context.Background(), lvl, "no source other than the OS delivered; seeding from the OS alone, uncredited")
		return mixer.ContinueOSOnly
	}
	d.log.Error("no source delivered", "err", err)
	return mixer.Fail
}

// creditLimit is the most entropy, in bits, that input bytes of source
// input can bear at bitsPerByte bits each.
func creditLimit(input, bitsPerByte float64) int {
	return int(math.Floor(input * bitsPerByte))
}
