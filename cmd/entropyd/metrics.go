package main

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
)

// metricPrefix starts every metric name.
const metricPrefix = "entropyd_"

// desc is a metric's description, built once per collector.
func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(metricPrefix+name, help, labels, nil)
}

// collector turns a snapshot into metrics at scrape time (node_exporter's
// pattern): no metric is updated in the hot path, none can go stale.
type collector struct {
	snap func() snapshot

	buildInfo, state, readBytes, reads, readDuration, used, errs *prometheus.Desc
	samples, failures, proximity, startUps, restores             *prometheus.Desc
	feeds, feedsOSOnly, lastFeed, lastFeedAge                    *prometheus.Desc
	kernelBytes, kernelCredited, kernelReseeds, kernelErrors     *prometheus.Desc
	kernelReady, mixReseeds, mixOSOnly, mixPrimaryErrors         *prometheus.Desc
	ready                                                        *prometheus.Desc
	hsm                                                          hsmDescs
}

func newCollector(snap func() snapshot) *collector {
	return &collector{
		snap:         snap,
		buildInfo:    desc("build_info", "A constant 1, labelled with entropyd's version and the Go version it was built with.", "version", "goversion"),
		state:        desc("source_state", "1 for the state the source is in (healthy, degraded, failed, reconnecting), 0 for the others.", "source", "state"),
		readBytes:    desc("source_read_bytes_total", "Bytes read from the source, before health testing.", "source"),
		reads:        desc("source_reads_total", "Read calls on the source.", "source"),
		readDuration: desc("source_read_duration_seconds", "Latency of the source's read calls.", "source"),
		used:         desc("source_used_bytes_total", "Health-tested bytes of the source given to the mixer.", "source"),
		errs:         desc("source_errors_total", "Failed opens and reads of the source, by errno, PKCS#11 return value (CKR_...) or EOF.", "source", "code"),
		samples:      desc("source_health_samples_total", "Samples (bytes) run through the source's SP 800-90B health tests.", "source"),
		failures:     desc("source_health_failures_total", "SP 800-90B health test failures of the source, by test (rct, apt) and kind (intermittent, permanent).", "source", "test", "kind"),
		proximity:    desc("source_health_cutoff_ratio", "Largest count the test has seen over its intermittent cutoff (longest run for rct, most repeats in a window for apt); 1 or more means a failure.", "source", "test"),
		startUps:     desc("source_health_startup_tests_total", "SP 800-90B start-up tests begun on the source: the first, one after each intermittent failure and one after each restore.", "source"),
		restores:     desc("source_health_restores_total", "Returns of the source to service after a permanent failure.", "source"),
		feeds:        desc("feeds_total", "Feeds of the kernel pool, by result (ok, error); with --no-feed a feed stops before the ioctl.", "result"),
		feedsOSOnly:  desc("feeds_os_only_total", "Feeds whose mixer reseed came from the OS alone, no other source delivering; fed uncredited."),
		lastFeed:     desc("last_feed_timestamp_seconds", "Time of the last successful feed, in seconds since the Unix epoch; 0 before the first."),
		lastFeedAge:  desc("last_feed_age_seconds", "Seconds since the last successful feed (since the start before the first)."),
		kernelBytes:  desc("kernel_fed_bytes_total", "Bytes mixed into the kernel pool with RNDADDENTROPY."),
		kernelCredited: desc("kernel_entropy_credited_total",
			"Entropy credited to the kernel, in bits; credit is given only while the kernel RNG is not ready."),
		kernelReseeds:    desc("kernel_reseeds_total", "RNDRESEEDCRNG calls that succeeded."),
		kernelErrors:     desc("kernel_ioctl_errors_total", "RNDADDENTROPY and RNDRESEEDCRNG calls that failed."),
		kernelReady:      desc("kernel_rng_ready", "1 when the kernel RNG is seeded (getrandom with GRND_NONBLOCK does not fail with EAGAIN)."),
		mixReseeds:       desc("mixer_reseeds_total", "Reseeds of the mixer's CTR_DRBG, one per feed."),
		mixOSOnly:        desc("mixer_os_only_seeds_total", "Mixer seedings and reseeds from the OS alone."),
		mixPrimaryErrors: desc("mixer_primary_errors_total", "Mixer seedings and reseeds for which no source other than the OS delivered."),
		ready: desc("ready", "1 when /readyz answers 200: the first feed is done and, when HSM (PKCS#11) sources are configured, one of them is healthy; "+
			"0 while every HSM source is down (the kernel is then fed without the HSM)."),
		hsm: newHSMDescs(),
	}
}

// Describe sends every descriptor.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.buildInfo, c.state, c.readBytes, c.reads, c.readDuration, c.used, c.errs,
		c.samples, c.failures, c.proximity, c.startUps, c.restores,
		c.feeds, c.feedsOSOnly, c.lastFeed, c.lastFeedAge,
		c.kernelBytes, c.kernelCredited, c.kernelReseeds, c.kernelErrors,
		c.kernelReady, c.mixReseeds, c.mixOSOnly, c.mixPrimaryErrors, c.ready,
	} {
		ch <- d
	}
	for _, d := range c.hsm.all() {
		ch <- d
	}
}

// Collect builds the metrics from one snapshot.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.snap()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(c.buildInfo, 1, version(), runtime.Version())
	gauge(c.ready, boolFloat(s.Ready))
	for _, src := range s.Sources {
		c.collectSource(ch, src, counter, gauge)
	}
	counter(c.feeds, s.FeedsOK, "ok")
	counter(c.feeds, s.FeedsFailed, "error")
	counter(c.feedsOSOnly, s.FeedsOSOnly)
	last, age := 0.0, s.Now.Sub(s.LastFeed).Seconds()
	if !s.LastFeed.IsZero() {
		last = float64(s.LastFeed.UnixNano()) / 1e9
	}
	gauge(c.lastFeed, last)
	gauge(c.lastFeedAge, age)
	if s.KernelFed {
		counter(c.kernelBytes, s.Kernel.Bytes)
		counter(c.kernelCredited, s.Kernel.CreditedBits)
		counter(c.kernelReseeds, s.Kernel.Reseeds)
		counter(c.kernelErrors, s.Kernel.Errors)
	}
	if s.KernelReadyKnown {
		gauge(c.kernelReady, boolFloat(s.KernelReady))
	}
	if s.MixerOK {
		counter(c.mixReseeds, s.Mixer.Reseeds)
		counter(c.mixOSOnly, s.Mixer.OSOnlySeeds)
		counter(c.mixPrimaryErrors, s.Mixer.PrimaryErrors)
	}
}

// collectSource sends one source's metrics.
func (c *collector) collectSource(ch chan<- prometheus.Metric, src sourceSnapshot,
	counter func(*prometheus.Desc, uint64, ...string), gauge func(*prometheus.Desc, float64, ...string)) {
	n := src.Name
	for _, st := range states {
		gauge(c.state, boolFloat(src.State == st), n, st.String())
	}
	k := src.Counters
	counter(c.readBytes, k.Bytes, n)
	counter(c.reads, k.Reads, n)
	counter(c.used, k.Used, n)
	buckets := make(map[float64]uint64, len(latencyBuckets))
	for i, ub := range latencyBuckets {
		buckets[ub] = k.Buckets[i]
	}
	ch <- prometheus.MustNewConstHistogram(c.readDuration, k.Reads, k.Sum.Seconds(), buckets, n)
	for code, v := range k.Errors {
		counter(c.errs, v, n, code)
	}
	h := src.Health
	counter(c.samples, uint64(h.Samples), n)
	counter(c.startUps, uint64(h.StartUps), n)
	counter(c.restores, uint64(h.Restores), n)
	for _, t := range []struct {
		name string
		c    struct{ Intermittent, Permanent int64 }
		max  int
		cut  int
	}{
		{"rct", struct{ Intermittent, Permanent int64 }{h.RCT.Intermittent, h.RCT.Permanent}, h.RCT.Max, h.RCT.Cutoff},
		{"apt", struct{ Intermittent, Permanent int64 }{h.APT.Intermittent, h.APT.Permanent}, h.APT.Max, h.APT.Cutoff},
	} {
		counter(c.failures, uint64(t.c.Intermittent), n, t.name, "intermittent")
		counter(c.failures, uint64(t.c.Permanent), n, t.name, "permanent")
		if t.cut > 0 {
			gauge(c.proximity, float64(t.max)/float64(t.cut), n, t.name)
		}
	}
	if src.HSM != nil {
		c.hsm.collect(ch, n, src.HSM, counter, gauge)
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
