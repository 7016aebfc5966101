package hsmrand

import (
	"crypto/rand"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hsmentropy/hsmentropy/health"
	"github.com/hsmentropy/hsmentropy/hsmrand/internal/p11"
	"github.com/hsmentropy/hsmentropy/mixer"
)

// Defaults for the zero values of [Options].
const (
	// DefaultDeadline is how long a read that needs fresh HSM bytes waits
	// for them when the buffer is empty. The refiller keeps the buffer
	// full, so a read waits only when the HSM is down or far slower than
	// the demand; 5 s covers a network HSM's fail-over.
	DefaultDeadline = 5 * time.Second

	// MaxHSMRequest is the largest request to the HSM, and the largest
	// C_GenerateRandom call made (64 KiB). PKCS#11 sets no maximum; this
	// one bounds how long a call holds a session and an OS thread.
	// Config.MaxRequest lowers it, and a token that refuses a request as too
	// large is asked for half as much, down to MinHSMRequest.
	MaxHSMRequest = p11.MaxChunk

	// MinHSMRequest is the smallest request limit a token may have (32
	// bytes): the token layer's output checks need that many bytes per
	// C_GenerateRandom call. A token that refuses it is taken down.
	MinHSMRequest = p11.MinRequest

	// DefaultHSMBuffer is the number of health-tested HSM bytes kept ready:
	// one request of MaxHSMRequest (64 KiB). The mixer takes
	// mixer.SeedLen (48) bytes per reseed, so this lasts 1,365 reseeds, or
	// 1,365 GetRandom calls, while a slow HSM refills it.
	DefaultHSMBuffer = MaxHSMRequest

	// MinHSMBuffer is the smallest HSMBuffer: twice the SP 800-90B start-up
	// test (health.StartUpSamples), so that a draw of half a buffer still
	// releases bytes after an intermittent failure restarts the test.
	MinHSMBuffer = 2 * health.StartUpSamples

	// DefaultMaxBufferAge is how long health-tested HSM bytes may wait in
	// the buffer before they are wiped and drawn afresh. It bounds how long
	// seed material lingers in memory, and makes the refiller ask the HSM
	// at least this often, so that an HSM that went away is noticed (and
	// shown in Stats) even when the demand is low.
	DefaultMaxBufferAge = 5 * time.Minute

	// DefaultProbeInterval is how long the refiller lets the HSM go
	// unasked before a small request (32 bytes) checks that it still
	// answers. With it an outage shows in Stats, State and OnStateChange
	// within about 10 s when the HSM answers with an error, and within 10 s
	// plus Options.Deadline when it hangs, however full the buffer is.
	DefaultProbeInterval = 10 * time.Second

	// MaxHSMBuffer bounds HSMBuffer: the buffer holds secrets, and a larger
	// one only postpones what the HSM's speed decides.
	MaxHSMBuffer = 256 * MaxHSMRequest

	// maxDraw is the largest single request to the source.
	maxDraw = MaxHSMRequest
)

// Policy says what a Reader does when the HSM cannot supply healthy bytes.
type Policy int

const (
	// FailClosed (the default): no output rests on the OS alone. A read that
	// needs fresh HSM bytes (for a reseed, or every GetRandom) waits up to
	// Options.Deadline, then fails with ErrUnavailable; after a permanent
	// failure every read fails (a sticky ErrHealthFailure or
	// ErrSourceFailed). An installed Reader never returns these errors: it
	// blocks until the HSM is back (see [Install]).
	FailClosed Policy = iota

	// Degrade: when the HSM is down, failed or too slow, seedings use the
	// OS source alone (mixer.ContinueOSOnly) and reads go on. Stats shows
	// the state StateDegraded, the time spent degraded and the OS-only
	// seedings, and Options.OnStateChange is called at every change.
	Degrade
)

// String returns "fail-closed" or "degrade", the values ConfigFromEnv reads.
func (p Policy) String() string {
	switch p {
	case FailClosed:
		return "fail-closed"
	case Degrade:
		return "degrade"
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// ReseedPolicy says when the mixer's CTR_DRBG shards take fresh HSM bytes;
// zero fields mean the mixer's defaults (see mixer.Config).
type ReseedPolicy struct {
	// Interval is the longest a shard serves between seedings: 0 means
	// mixer.DefaultReseedInterval (1 minute), negative disables it.
	Interval time.Duration
	// Bytes bounds the output of one shard between seedings: 0 means
	// mixer.DefaultReseedBytes (1 GiB).
	Bytes uint64
	// Calls bounds the CTR_DRBG Generate requests of one shard between
	// seedings: 0 means mixer.DefaultReseedCalls.
	Calls uint64
}

// Options configures a Reader over any primary source ([New]), and the
// part of [Config] that is not about PKCS#11. The zero Options is valid and
// means the defaults. New and Open never modify the Options they are given.
type Options struct {
	// Policy is the failure policy: FailClosed (the zero value) or Degrade.
	Policy Policy

	// Deadline is how long a read waits for HSM bytes when the buffer is
	// empty before it fails (FailClosed) or degrades (Degrade); it also
	// bounds the wait for the first healthy seed in New and Open. 0 means
	// DefaultDeadline. Under Degrade, a read does not wait at all while the
	// HSM is known to be down.
	Deadline time.Duration

	// OnStateChange, if set, is called at every change of the Reader's
	// State, with the cause (nil when the HSM came back). It may be called
	// from the refiller goroutine or from a read in progress, with locks
	// held: it must return quickly and must not read from the Reader
	// (Stats is fine).
	OnStateChange func(from, to State, cause error)

	// Health configures the SP 800-90B continuous health tests run on every
	// HSM byte. The zero Config means health.DefaultHSMConfig().
	Health health.Config

	// HSMBuffer is the number of health-tested HSM bytes the refiller keeps
	// ready: 0 means DefaultHSMBuffer, otherwise MinHSMBuffer to
	// MaxHSMBuffer. The refiller tops it up when it is half empty.
	HSMBuffer int

	// MaxBufferAge is how long HSM bytes may wait in the buffer unused:
	// then they are wiped (Stats.Expired) and drawn afresh. The limit is
	// hard: a timer wipes expired bytes when they expire, whatever the
	// refiller is doing (waiting on a hung HSM, backing off), and a seeding
	// never takes a byte older than it. 0 means DefaultMaxBufferAge;
	// negative means no limit.
	MaxBufferAge time.Duration

	// ProbeInterval is the liveness probe's period: when the HSM has not
	// been asked for this long (the buffer is full), a 32-byte request
	// checks that it still answers (Stats.Probes). 0 means
	// DefaultProbeInterval; negative turns the probe off.
	ProbeInterval time.Duration

	// Reseed is the mixer's reseed policy.
	Reseed ReseedPolicy

	// PredictionResistance makes every Read take fresh HSM bytes, as
	// GetRandom always does: each Read is then bounded by the HSM's speed.
	PredictionResistance bool

	// LiveGetRandom makes every GetRandom call draw its HSM bytes from the
	// HSM during the call (one C_GenerateRandom request of SeedLen bytes
	// per 64 KiB of output, made by the call itself and health-tested)
	// instead of from the buffer, as Vault's own entropy augmentation does:
	// the reseed's entropy input is then live in the sense of SP 800-90C
	// (see the package documentation). Each call then takes at least one
	// HSM round trip, is bounded by Deadline and fails closed whatever the
	// Policy. Not with AllowOSOnlyGetRandom.
	LiveGetRandom bool

	// AllowOSOnlyGetRandom lets GetRandom follow the Degrade policy as Read
	// does: when no healthy HSM bytes are available, it returns output
	// reseeded from the OS alone, counted in Stats.GetRandomOSOnly, instead
	// of an error. Without it GetRandom fails rather than return output
	// whose seed lacks HSM bytes, whatever the policy. It needs Policy
	// Degrade, and cannot be combined with LiveGetRandom, which always
	// fails closed.
	AllowOSOnlyGetRandom bool

	// Shards is the number of CTR_DRBG instances; 0 means GOMAXPROCS, at
	// most mixer.MaxShards.
	Shards int

	// OS is the operating system's source, mixed into every request; nil
	// means the standard library's source (crypto/rand.Reader as it was
	// before any Install). It must be safe for concurrent use and must not
	// be an installed Reader.
	OS io.Reader
}

// systemReader is crypto/rand.Reader as it was when this package was
// initialised, before any Install could replace it: the Go runtime's own
// source (getrandom(2) on Linux). It is never reassigned.
var systemReader = rand.Reader

// settings is a validated Options with its defaults applied.
type settings struct {
	policy   Policy
	deadline time.Duration
	notify   func(from, to State, cause error)
	health   health.Config
	hsmBuf   int
	maxAge   time.Duration // 0: no limit
	probe    time.Duration // 0: no probe
	mixer    mixer.Config  // Primary and OnPrimaryError are set by newReader

	liveGetRandom   bool // Options.LiveGetRandom
	osOnlyGetRandom bool // Options.AllowOSOnlyGetRandom
}

// settings validates o and returns a copy with the defaults applied.
func (o *Options) settings() (settings, error) {
	s := settings{
		policy:   o.Policy,
		deadline: o.Deadline,
		notify:   o.OnStateChange,
		health:   o.Health,
		hsmBuf:   o.HSMBuffer,
		maxAge:   o.MaxBufferAge,
		probe:    o.ProbeInterval,

		liveGetRandom:   o.LiveGetRandom,
		osOnlyGetRandom: o.AllowOSOnlyGetRandom,
		mixer: mixer.Config{
			OS:                   o.OS,
			Shards:               o.Shards,
			ReseedInterval:       o.Reseed.Interval,
			ReseedBytes:          o.Reseed.Bytes,
			ReseedCalls:          o.Reseed.Calls,
			PredictionResistance: o.PredictionResistance,
		},
	}
	if s.policy != FailClosed && s.policy != Degrade {
		return settings{}, fmt.Errorf("hsmrand: Options.Policy is %v, want FailClosed or Degrade", s.policy)
	}
	switch {
	case s.osOnlyGetRandom && s.policy != Degrade:
		return settings{}, fmt.Errorf("hsmrand: Options.AllowOSOnlyGetRandom needs Policy Degrade; under %v GetRandom never serves from the OS alone", s.policy)
	case s.osOnlyGetRandom && s.liveGetRandom:
		return settings{}, fmt.Errorf("hsmrand: Options.AllowOSOnlyGetRandom and LiveGetRandom are both set; a live GetRandom fails closed, choose one")
	}
	switch {
	case s.deadline == 0:
		s.deadline = DefaultDeadline
	case s.deadline < 0:
		return settings{}, fmt.Errorf("hsmrand: Options.Deadline is %v, want 0 (default) or positive", s.deadline)
	}
	if s.health == (health.Config{}) {
		s.health = health.DefaultHSMConfig()
	}
	switch {
	case s.hsmBuf == 0:
		s.hsmBuf = DefaultHSMBuffer
	case s.hsmBuf < MinHSMBuffer || s.hsmBuf > MaxHSMBuffer:
		return settings{}, fmt.Errorf("hsmrand: Options.HSMBuffer is %d, want 0 (default) or %d to %d", s.hsmBuf, MinHSMBuffer, MaxHSMBuffer)
	}
	switch {
	case s.maxAge == 0:
		s.maxAge = DefaultMaxBufferAge
	case s.maxAge < 0:
		s.maxAge = 0
	}
	switch {
	case s.probe == 0:
		s.probe = DefaultProbeInterval
	case s.probe < 0:
		s.probe = 0
	}
	if s.mixer.OS == nil {
		s.mixer.OS = systemReader
	}
	if _, ok := s.mixer.OS.(*installed); ok {
		return settings{}, fmt.Errorf("hsmrand: Options.OS is an installed hsmrand Reader (crypto/rand.Reader after Install); leave OS nil for the system source")
	}
	return s, nil
}

// Config configures a Reader over a PKCS#11 token ([Open]). Select the token
// in exactly one way: by URI, or by ModulePath and the selection fields
// (see [ConfigFromEnv] for Vault's variables). Open never modifies the
// Config it is given. fmt prints a Config with the PIN redacted.
type Config struct {
	// URI names the token, per RFC 7512:
	//
	//	pkcs11:token=vault?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/hsm.pin
	URI string

	// FailoverURIs name further tokens (the other nodes of an HSM cluster):
	// requests go to the healthy tokens in turn and fail over between
	// them. Only with URI.
	FailoverURIs []string

	// Without URI: the PKCS#11 library and the token's selection fields.
	// Select by TokenLabel or Serial rather than SlotID where you can:
	// tokens move slots when re-initialised.
	ModulePath string
	TokenLabel string
	Serial     string
	SlotID     *uint

	// PIN logs in as the normal user; without a PIN (or PINSource, or a
	// pin-value or pin-source in the URI) no login is made, which many
	// tokens allow for C_GenerateRandom. Open copies it; the caller wipes
	// its own. A wrong PIN is presented once and never retried.
	PIN []byte
	// PINSource names a file holding the PIN ("file:/abs/path").
	PINSource string

	// TokenOptions say how each token is used: MaxSessions (sessions, and
	// C_GenerateRandom calls in flight, per token; default 4), BackoffMin
	// and BackoffMax (the wait after a device fault before the token is
	// looked for again; 100 ms doubling up to 30 s), NoReinitialize (never
	// re-initialise the module to recover; see "Recovery" in the package
	// documentation) and MaxRequest (the largest C_GenerateRandom call:
	// MinHSMRequest to MaxHSMRequest, default MaxHSMRequest; a token's URI
	// attribute x-max-request overrides it). They go to the token layer as
	// they are, and are checked there, once.
	TokenOptions

	Options
}

// TokenOptions are the per-token settings of a [Config], the token layer's
// own struct, which Config hands down as it is:
//
//	type TokenOptions struct {
//		MaxSessions            int           // per token; 0 means 4
//		BackoffMin, BackoffMax time.Duration // 0 means 100 ms and 30 s
//		NoReinitialize         bool          // never C_Finalize + C_Initialize to recover
//		MaxRequest             int           // bytes per C_GenerateRandom; 0 means MaxHSMRequest
//	}
//
// Config's field says what each does; the zero value means the defaults.
type TokenOptions = p11.TokenOptions

// p11Configs turns c into one p11.Config per token. The PINs are copies,
// which the caller wipes.
func (c *Config) p11Configs() ([]p11.Config, error) {
	byFields := c.ModulePath != "" || c.TokenLabel != "" || c.Serial != "" || c.SlotID != nil
	switch {
	case c.URI == "" && !byFields:
		return nil, fmt.Errorf("hsmrand: Config selects no token: set URI, or ModulePath and TokenLabel, Serial or SlotID")
	case c.URI != "" && byFields:
		return nil, fmt.Errorf("hsmrand: Config must select the token in exactly one way: URI and ModulePath/TokenLabel/Serial/SlotID are both given")
	case c.URI == "" && len(c.FailoverURIs) > 0:
		return nil, fmt.Errorf("hsmrand: Config.FailoverURIs needs URI")
	}
	if c.URI == "" {
		pc := p11.Config{
			ModulePath: c.ModulePath, TokenLabel: c.TokenLabel, Serial: c.Serial,
			PIN: cloneBytes(c.PIN), PINSource: c.PINSource, TokenOptions: c.TokenOptions,
		}
		if c.SlotID != nil {
			id := *c.SlotID
			pc.SlotID = &id
		}
		return []p11.Config{pc}, nil
	}
	cfgs := make([]p11.Config, 0, 1+len(c.FailoverURIs))
	for i, s := range append([]string{c.URI}, c.FailoverURIs...) {
		u, err := p11.ParseURI(s)
		if err != nil {
			return nil, fmt.Errorf("hsmrand: URI %d of %d: %w", i+1, 1+len(c.FailoverURIs), err)
		}
		pc, err := u.Config()
		clear(u.PINValue)
		if err != nil {
			return nil, fmt.Errorf("hsmrand: URI %d of %d: %w", i+1, 1+len(c.FailoverURIs), err)
		}
		if len(pc.PIN) == 0 && pc.PINSource == "" {
			pc.PIN, pc.PINSource = cloneBytes(c.PIN), c.PINSource
		} else if len(c.PIN) > 0 || c.PINSource != "" {
			wipeConfigs(append(cfgs, pc))
			return nil, fmt.Errorf("hsmrand: URI %d of %d carries a PIN and Config gives one too; give one", i+1, 1+len(c.FailoverURIs))
		}
		uriMax := pc.MaxRequest // x-max-request, or 0
		pc.TokenOptions = c.TokenOptions
		if uriMax != 0 {
			pc.MaxRequest = uriMax
		}
		cfgs = append(cfgs, pc)
	}
	return cfgs, nil
}

func cloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

func wipeConfigs(cfgs []p11.Config) {
	for i := range cfgs {
		clear(cfgs[i].PIN)
	}
}

// String describes c with the PIN (and any pin-value in a URI) redacted.
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("hsmrand.Config{")
	if c.URI != "" {
		for i, s := range append([]string{c.URI}, c.FailoverURIs...) {
			if i > 0 {
				b.WriteString(" ")
			}
			if u, err := p11.ParseURI(s); err == nil {
				b.WriteString(u.String())
				clear(u.PINValue)
			} else {
				b.WriteString("<unparsable URI>")
			}
		}
	} else {
		fmt.Fprintf(&b, "module=%q token=%q serial=%q", c.ModulePath, c.TokenLabel, c.Serial)
		if c.SlotID != nil {
			fmt.Fprintf(&b, " slot-id=%d", *c.SlotID)
		}
	}
	switch {
	case len(c.PIN) > 0:
		b.WriteString(" pin=REDACTED")
	case c.PINSource != "":
		b.WriteString(" pin-source=" + c.PINSource)
	}
	fmt.Fprintf(&b, " policy=%v}", c.Policy)
	return b.String()
}

// GoString is String, so %#v does not print the PIN.
func (c Config) GoString() string { return c.String() }

// Format prints String for every verb, so no fmt verb prints the PIN.
func (c Config) Format(f fmt.State, verb rune) { fmt.Fprint(f, c.String()) }
