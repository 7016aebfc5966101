package engine

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

// Feeders feed the kernel: credited with the sources' mixed output, and
// uncredited when only the OS seeded it (crediting the kernel's own bytes
// back to it would count them twice).
type Feeders struct {
	Credited, Uncredited *kernelfeed.Feeder
}

// Close closes both feeders; a nil Feeders does nothing.
func (f *Feeders) Close() {
	if f != nil {
		f.Credited.Close()
		f.Uncredited.Close()
	}
}

// stats adds up both feeders' counters.
func (f *Feeders) stats() (kernelfeed.Stats, bool) {
	if f == nil {
		return kernelfeed.Stats{}, false
	}
	a, b := f.Credited.Stats(), f.Uncredited.Stats()
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
func (e *Engine) feed(reason string) error {
	buf := make([]byte, e.cfg.FeedBytes)
	defer clear(buf)
	before, creditable := e.mix.Stats().OSOnlySeeds, e.prim.creditable
	if _, err := e.mix.ReadPR(buf); err != nil {
		e.fc.failed.Add(1)
		return fmt.Errorf("drawing from the mixer: %w", err)
	}
	osOnly := e.mix.Stats().OSOnlySeeds != before
	if osOnly {
		e.fc.osOnly.Add(1)
	}
	res := kernelfeed.Result{Bytes: len(buf)}
	feeders := e.cfg.Feeders
	if feeders == nil {
		res.KernelReady, _ = kernelfeed.KernelReady()
	} else {
		f := feeders.Credited
		if osOnly {
			f = feeders.Uncredited
		}
		// The credit never exceeds what the source input drawn for this
		// feed alone can bear (kernelfeed's Crediting rule).
		limit := creditLimit(e.prim.creditable-creditable, e.cfg.CreditBits)
		var err error
		if res, err = f.FeedCredited(buf, limit); err != nil {
			e.fc.failed.Add(1)
			return fmt.Errorf("feeding the kernel: %w", err)
		}
	}
	e.fc.ok.Add(1)
	e.fc.lastNanos.Store(time.Now().UnixNano())
	e.log.Info("fed the kernel", "reason", reason, "bytes", res.Bytes, "credited_bits", res.Credited,
		"kernel_ready", res.KernelReady, "reseeded", res.Reseeded, "os_only", osOnly, "dry_run", feeders == nil,
		"sources", e.fedFrom())
	return nil
}

// fedFrom lists the sources whose bytes went into the last feed: those of
// the primary input, and the OS, which always supplies the mixer's
// additional input (and after a primary failure seeds it alone).
func (e *Engine) fedFrom() string {
	return strings.Join(append(slices.Clip(e.prim.contributors), OSName), ",")
}

// onPrimaryError is the mixer's hook: with the OS counted as a source, seed
// from it alone (counted, and fed uncredited); else fail the feed.
func (e *Engine) onPrimaryError(err error) mixer.Decision {
	if e.cfg.UseOS && errors.Is(err, errNoSource) {
		lvl := slog.LevelWarn
		if len(e.primaries) == 0 {
			lvl = slog.LevelDebug // the OS is the only source configured
		}
		e.log.Log(context.Background(), lvl, "no source other than the OS delivered; seeding from the OS alone, uncredited")
		return mixer.ContinueOSOnly
	}
	e.log.Error("no source delivered", "err", err)
	return mixer.Fail
}

// creditLimit is the most entropy, in bits, that input bytes of source
// input can bear at bitsPerByte bits each.
func creditLimit(input, bitsPerByte float64) int {
	return int(math.Floor(input * bitsPerByte))
}
