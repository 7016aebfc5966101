package main

import (
	"flag"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hsmentropy/hsmentropy/hsmrand"
	"github.com/hsmentropy/hsmentropy/internal/engine"
	"github.com/hsmentropy/hsmentropy/kernelfeed"
	"github.com/hsmentropy/hsmentropy/mixer"
)

// envPrefix starts the environment variable of every option: --feed-interval
// is also ENTROPYD_FEED_INTERVAL.
const envPrefix = "ENTROPYD_"

// pinEnv names the only environment variable a PIN is read from, besides the
// file named by --pin-file. PINs are never flags: a flag shows in ps(1).
const pinEnv = envPrefix + "PIN"

const (
	// defaultFeedBytes is the bytes fed to the kernel per feed: one
	// prediction-resistant mixer request, reseeded from mixer.SeedLen fresh
	// bytes of the sources.
	defaultFeedBytes = 64
	// defaultCreditBits credits the kernel, per byte fed, no more than the
	// sources' fresh input behind it: 8 bits for each of the mixer.SeedLen
	// bytes of the reseed, spread over defaultFeedBytes (6 bits per byte).
	defaultCreditBits = 8 * mixer.SeedLen / defaultFeedBytes
	// defaultFeedInterval matches the kernel's CRNG reseed interval.
	defaultFeedInterval = mixer.DefaultReseedInterval
	// defaultListen serves the metrics on the loopback interface only.
	defaultListen = "localhost:9746"
)

// runConfig holds every option of entropyd run and entropyd check.
type runConfig struct {
	configFile string

	listen    string
	logFormat string
	logLevel  string

	feedInterval time.Duration
	feedBytes    int
	creditBits   float64
	reseedCRNG   bool
	device       string
	once         bool
	noFeed       bool

	useOS      bool
	hwrng      bool
	hwrngPath  string
	hwrngRate  int
	hwrngChunk int
	files      string
	fileRate   int
	fileChunk  int

	pkcs11URI     string
	pkcs11FromEnv bool
	pkcs11Rate    int
	pkcs11Chunk   int
	pkcs11MaxReq  int
	pkcs11Probe   time.Duration
	pinFile       string

	startupTimeout time.Duration
	sourceTimeout  time.Duration
	restoreAfter   time.Duration

	// origin says where each option that is not at its default came
	// from, as the user wrote it: "--pin-file", "ENTROPYD_PIN_FILE" or
	// "/etc/entropyd/entropyd.conf:7 pin-file".
	origin     map[string]string
	debugPprof bool
}

// from names where option name came from, for an error message.
func (c *runConfig) from(name string) string {
	if o := c.origin[name]; o != "" {
		return o
	}
	return "--" + name
}

// register declares the options on fs, with their defaults.
func (c *runConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.configFile, "config", "", "read options from `FILE`: lines \"name = value\", names as the flags'; flags and environment win")

	fs.StringVar(&c.listen, "listen", defaultListen, "serve /metrics, /healthz and /readyz on `ADDR`; empty disables")
	fs.StringVar(&c.logFormat, "log-format", "text", "log `FORMAT`: text or json")
	fs.StringVar(&c.logLevel, "log-level", "info", "log `LEVEL`: debug, info, warn or error")

	fs.DurationVar(&c.feedInterval, "feed-interval", defaultFeedInterval, "feed the kernel every `DURATION` (and at once when a source recovers)")
	fs.IntVar(&c.feedBytes, "feed-bytes", defaultFeedBytes, "feed `N` bytes to the kernel per feed, 1 to 65536")
	fs.Float64Var(&c.creditBits, "credit-bits", defaultCreditBits, "credit the kernel `BITS` of entropy per byte fed while its RNG is not ready, 0 to 8 (none when only the OS source is left)")
	fs.BoolVar(&c.reseedCRNG, "reseed-crng", true, "ask the kernel to reseed its CRNG after each feed (RNDRESEEDCRNG); --reseed-crng=false does not")
	fs.StringVar(&c.device, "device", kernelfeed.DefaultDevice, "issue the feeding ioctls on `DEVICE`")
	fs.BoolVar(&c.once, "once", false, "feed once and exit (for an initramfs)")
	fs.BoolVar(&c.noFeed, "no-feed", false, "never feed the kernel: run tests and mixes the sources as a dry run; check skips its check of --device")

	fs.BoolVar(&c.useOS, "os", true, "count the OS (getrandom) as a source: when every other source has failed, go on seeding from it alone; it always supplies the mixer's additional input")
	fs.BoolVar(&c.hwrng, "hwrng", false, "read the hardware RNG device (competes with the kernel's own hwrng thread)")
	fs.StringVar(&c.hwrngPath, "hwrng-device", "/dev/hwrng", "the hardware RNG `DEVICE`")
	fs.IntVar(&c.hwrngRate, "hwrng-rate", 1024, "read at most `N` bytes per second from the hardware RNG; 0 means no limit")
	fs.IntVar(&c.hwrngChunk, "hwrng-chunk", 64, "read `N` bytes at a time from the hardware RNG")
	fs.StringVar(&c.files, "file", "", "read the files or FIFOs named in the comma-separated `LIST` (a regular file is used up once)")
	fs.IntVar(&c.fileRate, "file-rate", 0, "read at most `N` bytes per second from each file; 0 means no limit")
	fs.IntVar(&c.fileChunk, "file-chunk", 512, "read `N` bytes at a time from each file")

	fs.StringVar(&c.pkcs11URI, "pkcs11-uri", "", "read a PKCS#11 token named by an RFC 7512 `URI` (pkcs11:token=...?module-path=...)")
	fs.BoolVar(&c.pkcs11FromEnv, "pkcs11-from-env", false, "read a PKCS#11 token named as hsmrand does: HSMRAND_URI, or Vault's VAULT_HSM_LIB, VAULT_HSM_SLOT, VAULT_HSM_TOKEN_LABEL and VAULT_HSM_PIN")
	fs.IntVar(&c.pkcs11Rate, "pkcs11-rate", 0, "read at most `N` bytes per second from the token; 0 means no limit")
	fs.IntVar(&c.pkcs11Chunk, "pkcs11-chunk", mixer.SeedLen, "read `N` bytes at a time from the token's hsmrand Reader, each read resting on one reseed from 48 fresh HSM bytes; larger reads lower the credit per byte in proportion")
	fs.IntVar(&c.pkcs11MaxReq, "pkcs11-max-request", 0, fmt.Sprintf("the largest C_GenerateRandom call in `BYTES`, %d to %d; 0 means %d, halved by itself when the token refuses a call as too large (a URI's x-max-request wins)",
		hsmrand.MinHSMRequest, hsmrand.MaxHSMRequest, hsmrand.MaxHSMRequest))
	fs.DurationVar(&c.pkcs11Probe, "pkcs11-probe-interval", hsmrand.DefaultProbeInterval, "ask the token for 32 bytes when it has gone unasked for `DURATION`, so that an outage shows within it; longer lightens a fleet's load on the HSM (docs/operations.md)")
	fs.StringVar(&c.pinFile, "pin-file", "", "read the token's PIN from `FILE` (or set "+pinEnv+"; never a flag)")

	fs.DurationVar(&c.startupTimeout, "startup-timeout", 10*time.Second, "wait at most `DURATION` for a source to pass its start-up tests before the first feed")
	fs.DurationVar(&c.sourceTimeout, "source-timeout", 2*time.Second, "wait at most `DURATION` for a healthy source's bytes at a feed")
	fs.DurationVar(&c.restoreAfter, "restore-after", 10*time.Minute, "put a source that failed its health tests back to a new start-up test after `DURATION`; 0 never")

	fs.BoolVar(&c.debugPprof, "debug-pprof", false, "also serve Go's profiles (net/http/pprof) under /debug/pprof/ on --listen, for debugging; off by default")
}

// validate checks the values flag parsing cannot, naming the option at fault.
func (c *runConfig) validate() error {
	bad := func(name string, format string, args ...any) error {
		return usageError("invalid value for %s: %s", c.from(name), fmt.Sprintf(format, args...))
	}
	switch {
	case c.logFormat != "text" && c.logFormat != "json":
		return bad("log-format", "%q is neither text nor json", c.logFormat)
	case c.feedInterval <= 0:
		return bad("feed-interval", "%v is not positive", c.feedInterval)
	case c.feedBytes < 1 || c.feedBytes > mixer.MaxRequest:
		return bad("feed-bytes", "%d is not in 1..%d", c.feedBytes, mixer.MaxRequest)
	case !(c.creditBits >= 0 && c.creditBits <= 8):
		return bad("credit-bits", "%v is not in 0..8", c.creditBits)
	case c.hwrngRate < 0:
		return bad("hwrng-rate", "%d is negative", c.hwrngRate)
	case c.hwrngChunk < 1 || c.hwrngChunk > engine.MaxChunk:
		return bad("hwrng-chunk", "%d is not in 1..%d", c.hwrngChunk, engine.MaxChunk)
	case c.fileRate < 0:
		return bad("file-rate", "%d is negative", c.fileRate)
	case c.fileChunk < 1 || c.fileChunk > engine.MaxChunk:
		return bad("file-chunk", "%d is not in 1..%d", c.fileChunk, engine.MaxChunk)
	case c.pkcs11Rate < 0:
		return bad("pkcs11-rate", "%d is negative", c.pkcs11Rate)
	case c.pkcs11Chunk < 1 || c.pkcs11Chunk > engine.MaxChunk:
		return bad("pkcs11-chunk", "%d is not in 1..%d", c.pkcs11Chunk, engine.MaxChunk)
	case c.pkcs11MaxReq != 0 && (c.pkcs11MaxReq < hsmrand.MinHSMRequest || c.pkcs11MaxReq > hsmrand.MaxHSMRequest):
		return bad("pkcs11-max-request", "%d is neither 0 nor in %d..%d", c.pkcs11MaxReq, hsmrand.MinHSMRequest, hsmrand.MaxHSMRequest)
	case c.pkcs11Probe <= 0:
		return bad("pkcs11-probe-interval", "%v is not positive", c.pkcs11Probe)
	case uriHasPINValue(c.pkcs11URI):
		// The URI is not echoed: it holds the PIN.
		return bad("pkcs11-uri", "its pin-value attribute would put the PIN in the process's arguments or the configuration file; use pin-source=file:/abs/path in the URI, --pin-file or %s", pinEnv)
	case c.startupTimeout <= 0:
		return bad("startup-timeout", "%v is not positive", c.startupTimeout)
	case c.sourceTimeout <= 0:
		return bad("source-timeout", "%v is not positive", c.sourceTimeout)
	case c.restoreAfter < 0:
		return bad("restore-after", "%v is negative", c.restoreAfter)
	}
	if _, err := parseLevel(c.logLevel); err != nil {
		return bad("log-level", "%v", err)
	}
	if c.pkcs11URI != "" && c.pkcs11FromEnv {
		return usageError("%s and %s both name a token; give one", c.from("pkcs11-uri"), c.from("pkcs11-from-env"))
	}
	if !c.useOS && c.primaryCount() == 0 {
		return usageError("no source: %s=false needs --hwrng, --file or --pkcs11-uri", c.from("os"))
	}
	return nil
}

// primaryCount is the number of sources other than the OS.
func (c *runConfig) primaryCount() int {
	n := len(c.fileList())
	if c.hwrng {
		n++
	}
	if c.pkcs11URI != "" || c.pkcs11FromEnv {
		n++
	}
	return n
}

// noHSMNote says, when no PKCS#11 token is configured, which sources are in
// use instead; it is "" when a token is configured.
func (c *runConfig) noHSMNote() string {
	if c.pkcs11URI != "" || c.pkcs11FromEnv {
		return ""
	}
	if c.primaryCount() == 0 {
		return "no HSM source is configured (--pkcs11-uri or --pkcs11-from-env): only the operating system's randomness (getrandom) is in use"
	}
	names := c.fileList()
	for i := range names {
		names[i] = "file:" + names[i]
	}
	if c.hwrng {
		names = append([]string{engine.HwrngName}, names...)
	}
	return "no HSM source is configured (--pkcs11-uri or --pkcs11-from-env): the sources in use are " + strings.Join(names, ", ") + " and the operating system's randomness"
}

// tokenOrigin names the option that named the PKCS#11 token.
func (c *runConfig) tokenOrigin() string {
	if c.pkcs11URI != "" {
		return c.from("pkcs11-uri")
	}
	return c.from("pkcs11-from-env") + ": HSMRAND_URI or VAULT_HSM_*"
}

// fileList splits --file.
func (c *runConfig) fileList() []string {
	var out []string
	for _, f := range strings.Split(c.files, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// envName is the environment variable name of a flag, without envPrefix.
func envName(flagName string) string {
	return strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// uriHasPINValue reports whether a PKCS#11 URI carries its PIN inline (RFC
// 7512 pin-value), however its attribute names are percent-encoded.
func uriHasPINValue(uri string) bool {
	path, query, _ := strings.Cut(uri, "?")
	attrs := append(strings.Split(path, ";"), strings.Split(query, "&")...)
	for _, attr := range attrs {
		name, _, _ := strings.Cut(attr, "=")
		if n, err := url.PathUnescape(name); err == nil {
			name = n
		}
		if strings.EqualFold(name, "pin-value") {
			return true
		}
	}
	return false
}
