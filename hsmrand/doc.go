// Package hsmrand provides an io.Reader of random bytes backed by a hardware
// security module: a [Reader] that mixes the HSM's output with the operating
// system's, can stand in for crypto/rand.Reader ([Install]), and satisfies
// go-kms-wrapping's entropy.Sourcer ([Reader.GetRandom]).
//
//	r, err := hsmrand.Open(ctx, hsmrand.Config{
//		URI: "pkcs11:token=vault?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/hsm.pin",
//	})
//	...
//	defer r.Close()
//	key := make([]byte, 32)
//	_, err = io.ReadFull(r, key)
//
// [Open] reaches a PKCS#11 token (by RFC 7512 URI, by fields, or by Vault's
// VAULT_HSM_* variables through [ConfigFromEnv]); [New] takes any other
// primary source, such as /dev/hwrng or a test source. Importing
// hsmrand/autoinstall does Open and Install from the environment and stops
// the process if the HSM cannot be used.
//
// # Sources and mixing
//
// A refiller goroutine, with its own context, draws from the HSM in
// requests of up to 64 KiB (C_GenerateRandom), health-tests every byte and
// keeps a bounded buffer (Options.HSMBuffer, 64 KiB) of healthy bytes,
// topping it up when it is half empty. Reads never call the HSM: after Open
// returns, a Read waits on the HSM only if the buffer runs dry, which takes
// an HSM that is down or much slower than the demand. Bytes that wait in
// the buffer longer than Options.MaxBufferAge (5 minutes) are wiped when
// they expire, by a timer of their own, whatever the refiller is doing
// (waiting on a hung HSM, backing off), and a seeding never takes an older
// byte: seed material does not linger in memory.
//
// # Liveness and recovery
//
// When the buffer is full nothing needs the HSM, so a liveness probe asks
// it for 32 bytes whenever it has not been asked for
// Options.ProbeInterval (10 s): an HSM that goes away shows in Stats, the
// State and OnStateChange within about 10 s when it answers with an error,
// and within 10 s plus Options.Deadline when its request hangs (a request
// in flight for a whole deadline marks the HSM down, whether or not a read
// waits on it). While the HSM is down the refiller asks again every second
// at most, and the token layer looks for the token after its own back-off
// (Config.BackoffMin doubling to BackoffMax, 30 s): a token that returns
// is in use again within BackoffMax, plus a second, of its return.
//
// Some network HSM libraries never reconnect by themselves: after their
// server restarts, every call (C_GetSlotList included) answers
// CKR_DEVICE_ERROR until the module is finalised and initialised again.
// When the whole module fails that way and no call of hsmrand's on it has
// worked since, hsmrand re-initialises it, once per back-off, only if its
// own C_Initialize started the module, never under a call, and then logs
// in once. This ends every session on the module in the process, other
// code's included: Config.NoReinitialize forbids it, for programs that
// share the module (the token then comes back only if the module does).
// hsmrand never calls C_Finalize otherwise, not even at Close: other code
// in the process may use the module, which stays initialised until the
// process exits. Stats.Tokens counts re-initialisations per token.
//
// In a pool of tokens ([Config.FailoverURIs]) permanence is per token: the
// Reader fails for good only when every token has (a refused PIN, no RNG);
// while any token may come back, an error of the others is transient.
//
// PKCS#11 sets no maximum for one C_GenerateRandom call, and some modules
// carry less than 64 KiB (a network HSM's transport may have a small
// message size): they refuse a larger request with CKR_DATA_LEN_RANGE,
// CKR_ARGUMENTS_BAD, CKR_HOST_MEMORY or CKR_DEVICE_MEMORY. The p11 layer
// then asks again for half as much, down to MinHSMRequest (32 bytes, the
// least its output checks work on), without a fault: the token stays up
// and the request succeeds in several calls. Each token keeps the size
// that worked as its limit (TokenStats.MaxRequest) and never asks for more
// again until it is reopened or its module re-initialised (see Recovery);
// the refusals count in TokenStats.Errors.
// Config.MaxRequest, or the URI attribute x-max-request, sets the limit
// from the start. A token that refuses even 32 bytes is a fault, reported
// as such.
//
// The output comes from package mixer's construction: CTR_DRBG with AES-256
// and no derivation function (SP 800-90A Rev. 1, Section 10.2.1), in
// GOMAXPROCS shards. Each shard is instantiated with 48 HSM bytes as entropy
// input and 48 OS bytes as personalization string, reseeded with 48 HSM
// bytes and 48 OS bytes as additional input (by default every minute, every
// GiB or every 2^20 requests per shard: Options.Reseed), and takes 48 fresh
// OS bytes as additional input with every Generate request. Without the
// derivation function these inputs are XORed into the state, so the output
// is at least as strong as the stronger source (mixer's documentation gives
// the argument). The HSM bytes of a seeding are taken before the OS bytes,
// and the buffer hands each HSM byte to one seeding only.
//
// [Reader.GetRandom] reads with prediction resistance (SP 800-90A Rev. 1,
// Section 9.3.1): every 64 KiB of its output follows a reseed from 48 HSM
// bytes of its own, taken from the buffer or, with Options.LiveGetRandom,
// drawn from the HSM during the call; see "GetRandom and prediction
// resistance" below. Options.PredictionResistance makes every Read reseed
// from the buffer in the same way.
//
// Speed: a Read shorter than the mixer's 16 KiB buffer is a copy from a
// shard's buffer and does not allocate; longer reads are generated straight
// into the caller's slice, at the cost of three allocations per 64 KiB
// request inside crypto/aes (see mixer's "Speed and allocations").
//
// # Failure policy
//
// The HSM can be down (not answering, backing off, failing over), too slow
// for the demand, or failed for good (its output failed the health tests
// permanently, the token refused the PIN at a re-login, the source ended).
// Options.Policy chooses what happens when a read needs fresh HSM bytes and
// the buffer cannot supply them:
//
//   - [FailClosed], the default: the read waits up to Options.Deadline (5 s)
//     for the refiller, then fails with [ErrUnavailable]; the next read tries
//     again. The deadline counts from when the HSM stopped delivering, not
//     from each read: once it has been down (or a request of the refiller's
//     has hung) for a whole deadline, reads that need HSM bytes fail at once
//     until it delivers again, rather than queueing for HSM bytes and each
//     waiting out the deadline in turn. A permanent failure is sticky: the Reader enters StateFailed
//     and every read returns [ErrHealthFailure] or [ErrSourceFailed], as
//     age's stream reader keeps failing after its first failure. No output
//     ever rests on the OS alone.
//   - [Degrade]: the seeding uses the OS source alone
//     (mixer.ContinueOSOnly), without waiting while the HSM is known to be
//     down (after a failed request, or once a request has hung for a
//     deadline), and the read succeeds; GetRandom, which promises fresh
//     HSM bytes, fails instead unless Options.AllowOSOnlyGetRandom is set
//     (see below). The Reader enters StateDegraded;
//     Stats shows the state, the time spent degraded, the OS-only seedings
//     and the degraded shards, and Options.OnStateChange is called. Each
//     degraded shard tries the HSM again at its next request, so the Reader
//     is healthy again as soon as the HSM is back.
//
// Reads that need no HSM bytes (most reads: a shard reseeds once a minute)
// are served under either policy while the HSM is down; Stats then shows
// StateSourceDown. An installed Reader never returns an error, whatever the
// policy; see below.
//
// # GetRandom and prediction resistance
//
// GetRandom is the Generate function of SP 800-90A Rev. 1, Section 9.3.1,
// with prediction_resistance_request set: before each Generate request (at
// most 64 KiB) the shard is reseeded (Section 10.2.1.4.1) with
// entropy_input = 48 HSM bytes used by no other seeding and
// additional_input = 48 OS bytes read at that moment, then generates with
// no additional input (mixer.ReadPRWith). Where the HSM bytes come from
// decides what prediction resistance means:
//
//   - Buffered (the default): the refiller drew them from the HSM earlier,
//     up to Options.MaxBufferAge (5 minutes) before, health-tested them and
//     kept them in process memory. SP 800-90A Rev. 1, Section 8.8, and
//     SP 800-90C obtain the entropy input for prediction resistance from a
//     live entropy source at the time of the request; buffered bytes were
//     not, so GetRandom then gives prediction resistance against a
//     compromise of the DRBG's internal state (K and V) only if the buffer
//     was not compromised too; both sit in the process's memory, so an
//     attacker who can read one can usually read the other. A compromise of process memory (a core
//     dump, a debugger, a memory-disclosure bug) reveals, besides the
//     shards' states, every byte still buffered: up to Options.HSMBuffer
//     (64 KiB), the entropy input of the next 1,365 reseeds. Those reseeds
//     then add nothing the attacker does not know but their 48 fresh OS
//     bytes each, and the output is as strong as the OS source alone until
//     the buffer has been used up or wiped (at MaxBufferAge, at a
//     quarantine, at Close) and the reseeds take bytes drawn after the
//     compromise. Bytes already used are gone: each is wiped as it is
//     handed out. The cost is a reseed from the buffer, a few
//     microseconds a call (3 allocations); no call waits for the HSM while
//     the buffer holds bytes.
//   - Live (Options.LiveGetRandom): the call makes its own C_GenerateRandom
//     request, through the same token layer as the refiller (its sessions,
//     its fail-over), for 48 bytes per 64 KiB of output; they are
//     health-tested, used at once for the call's reseeds and wiped. The
//     entropy input is obtained at the time of the request, as SP 800-90C
//     asks of a live entropy source for prediction resistance, and as Vault
//     Enterprise's entropy augmentation does (it reads the seal for every
//     request). A memory compromise reveals only the HSM bytes of calls in
//     flight. The cost is an HSM round trip per call: about five times a
//     buffered call with SoftHSM, the HSM's latency with a network HSM
//     (20.6 ms a call on a token taking 20 ms; see the README's
//     performance table), and at most Config.MaxSessions calls per token
//     at a time. That the HSM's own output is the output of its
//     DRBG, with whatever prediction resistance the HSM gives it, is the
//     HSM's matter: to hsmrand it is the live source.
//
// Live bytes go through the same SP 800-90B tester as the refiller's: to
// the continuous tests the token's output is one stream, whoever asked
// for it, so no byte reaches a seed untested. A live block that fails is
// answered as a refilled one: it and the whole buffer are quarantined,
// and an intermittent failure takes the stream down (the start-up test
// runs again on the next 1,024 bytes, which a live call then draws in
// addition) while a permanent one ends it. The call that drew the block
// fails and returns no output.
//
// GetRandom never overstates: whatever the policy, it returns an error
// (matching ErrUnavailable, or ErrHealthFailure or ErrSourceFailed once
// the HSM has failed for good) rather than output whose reseed lacks HSM
// bytes. Read under Degrade degrades; GetRandom does not, since its
// callers (Vault's entropy hook) were promised HSM entropy and Vault's own
// augmentation fails closed when the HSM is unreachable. A program that
// prefers OS-only output to an error sets Options.AllowOSOnlyGetRandom
// with Degrade; each GetRandom call so served is counted in
// Stats.GetRandomOSOnly (and its reseeds in Stats.OSOnlySeeds). The
// decision is made per call, inside the mixer, so concurrent reads cannot
// blur it. A live call waits at most Options.Deadline for its bytes and
// then fails, under either policy, even with the buffer full: it never
// falls back to buffered bytes, which would be less than it promised.
// A failed live request is counted (HSMErrors, LastError) but does not
// change the State, which the refiller's requests (its liveness probe
// included) decide.
//
// # Installing as crypto/rand.Reader
//
// [Install] makes a Reader crypto/rand.Reader and returns a function that
// undoes it. crypto/rand.Read crashes the process, without an error to
// recover, when a replaced Reader fails (go.dev/issue/66821), so an
// installed Reader never returns one: under FailClosed it blocks until the
// HSM is back (for good, after a permanent failure: the process stops
// getting randomness rather than getting weaker randomness), and under
// Degrade it serves from the OS. Stats.InstalledWaits counts its waits.
// A Reader closed while installed hands crypto/rand back to the Reader it
// replaced. [Installed] returns the Reader installed (hsmrand/autoinstall's
// Reader returns the one it installed), for its Stats.
//
// What Install changes in the process, and how to opt out of each part:
//
//   - crypto/rand.Reader, always: crypto/rand.Read, crypto/rand.Text,
//     ed25519.GenerateKey(r) with r = crypto/rand.Reader, and every library
//     that reads crypto/rand.Reader itself draw from the Reader. To keep
//     any of them on Go's generator, do not Install: read the Reader
//     directly, or pass it where an API takes a reader.
//   - GODEBUG=cryptocustomrand=1, only with InstallOptions.KeyGeneration
//     (see below). The zero options leave GODEBUG alone.
//
// Installs nest: each Install pushes, each restore takes its own entry off
// wherever it is, crypto/rand.Reader is the last Reader installed and not
// restored, and the setting stays on while any install that asked for it
// remains. After the last restore, crypto/rand.Reader and GODEBUG are as
// they were before the first Install (what other code set in between is
// left alone). Install fails, changing nothing, when it cannot do what was
// asked (FIPS 140-3 mode, below; an explicit cryptocustomrand=0).
//
// # Key generation: Go 1.26 and GODEBUG=cryptocustomrand
//
// Since Go 1.26, crypto/ecdsa, crypto/rsa, crypto/ecdh, crypto/dsa,
// crypto/rand.Prime and ed25519.GenerateKey(nil) ignore crypto/rand.Reader
// and the reader they are passed, and use Go's own generator (seeded from
// the kernel), unless GODEBUG=cryptocustomrand=1 is in effect
// (crypto/internal/rand.CustomReader reads the setting on every call). So
// by default an installed Reader does not make ECDSA, RSA or ECDH keys, nor
// their signatures' nonces, nor RSA encryption padding: those stay with Go.
//
// InstallOptions.KeyGeneration asks for them to come from the Reader too.
// A GODEBUG change made with os.Setenv takes effect at once, so Install
// appends cryptocustomrand=1 to GODEBUG (the user's other settings are
// kept), and the last restore puts the variable back. The setting is
// process-wide and not ours alone: with it, those functions use whatever
// reader any code in the process passes them, and a nil reader, which Go
// 1.26 documents as fine (ecdh.P256().GenerateKey(nil),
// ecdsa.GenerateKey(c, nil)), panics. Child processes started with the
// process's environment (exec.Cmd with a nil Env) inherit GODEBUG, and Go
// children then behave the same way: give them [Environ], the environment
// without what Install added. If GODEBUG already sets cryptocustomrand to
// anything but 1, Install with KeyGeneration fails and says so: the
// environment's choice is kept. If the setting is on already (a
// //go:debug line, or a main module whose go.mod says go 1.25 or older,
// which makes it the binary's default), Install has nothing to add, and
// key generation follows crypto/rand.Reader with or without the option.
// Go says the setting will be removed in a future release; from then on
// only crypto/rand.Read and code that reads crypto/rand.Reader itself can
// use the HSM.
//
// Built with Go 1.25 there is no such setting: ecdsa, rsa and ecdh use
// whatever reader they are passed, so code that passes crypto/rand.Reader
// makes its keys from an installed Reader whatever the options say (Go
// 1.25 has no nil-reader default for ecdh and ecdsa: pass a reader).
// KeyGeneration changes nothing there.
//
// # FIPS 140-3 mode
//
// hsmrand is outside the boundary of Go's FIPS 140-3 module: its CTR_DRBG
// is not the module's approved DRBG, and no public API feeds that DRBG.
// Install reads crypto/fips140 (Enabled, and Enforced for fips140=only):
//
//   - GODEBUG=fips140=only: Go allows only its own generator, and its key
//     generation refuses any other reader ("only crypto/rand.Reader is
//     allowed in FIPS 140-only mode"). Install refuses, whatever the
//     options, and changes nothing: an installed Reader would serve
//     crypto/rand.Read from outside the module and, before Go 1.26, make
//     every key generation fail. hsmrand/autoinstall then stops the
//     program.
//   - GODEBUG=fips140=on, or a GOFIPS140 build: Install replaces
//     crypto/rand.Reader; crypto/rand.Read then serves bytes from outside
//     the module. Keys stay with Go's approved DRBG by default (Go 1.26).
//     KeyGeneration puts key generation on the Reader: those keys are then
//     drawn outside Go's module, and Go marks each such call non-approved
//     internally; ask for it only if that is acceptable. Where keys would
//     follow the Reader without being asked (Go 1.25, or cryptocustomrand=1
//     in effect), Install without KeyGeneration fails rather than take key
//     generation out of the module silently.
//
// The honest path for a program that must stay inside the module: leave
// crypto/rand.Reader to Go and feed the kernel from the HSM with entropyd.
// Go's v1.0.0 module seeds its DRBG from the kernel (getrandom), and newer
// modules also mix kernel bytes into every read as additional input, so
// entropyd is how HSM randomness reaches a FIPS-mode Go program.
//
// # Sessions and concurrency
//
// A Reader is safe for concurrent use. Reads go to the mixer's shards
// (one lock each, no global lock; a read locks only the shard it uses).
// PKCS#11 allows many threads in one module but not two on one session:
// the refiller calls the token, one request at a time, on a session
// taken from the p11 layer's small pool (Config.MaxSessions) and given
// back, so no session is ever shared. With Options.LiveGetRandom each
// GetRandom call also makes a request, on a session of its own from the
// same pool, so at most MaxSessions cgo calls per token are in flight,
// each blocking one OS thread; a call to a hung HSM returns at its
// deadline and leaves its request to finish (and wipe its bytes) on its
// own. A source given to New is not safe for concurrent use: there the
// live requests and the refiller's take turns. The module context is shared with
// the rest of the process and initialised once; closing the last Reader
// leaves it initialised (see Liveness and recovery). When another handle closes
// the sessions (C_CloseAllSessions) or the token is re-plugged, the p11
// layer reopens a session, logs in again and finds the token anew, by its
// label or serial, while reads go on from the buffer.
//
// Close stops the refiller and GetRandom's live requests, waiting for the
// requests in flight, then wipes and closes everything. PKCS#11 forbids closing a session or finalising the
// library under a call, so Close waits for as long as a hung HSM holds its
// call; readers waiting on the Reader are released at once with ErrClosed. The OnStateChange hook runs from the refiller or from
// a read with locks held: it must be quick and must not read from the
// Reader.
//
// # Health tests and what they mean on HSM output
//
// Every HSM byte passes the SP 800-90B continuous health tests (package
// health: the Repetition Count Test, Section 4.4.1, and the Adaptive
// Proportion Test, Section 4.4.2), after a start-up test over the first
// 1,024 bytes, with health.DefaultHSMConfig unless Options.Health says
// otherwise (H = 8 bits per byte, intermittent alpha 2^-64: about one false
// alarm in 5,800 years at 100 MB/s). An intermittent failure quarantines
// the failing request and everything still buffered: the bytes are wiped
// unused, counted in Stats.Quarantined, and the start-up test runs again. A
// permanent failure ends the HSM stream (see Failure policy).
//
// An HSM's output is already the output of its own DRBG, not raw noise. On
// it these tests catch a stuck or broken token, driver or bus: a constant
// or repeated short output, a dominant value. They do not make the HSM an
// SP 800-90B entropy source and say nothing about its entropy; any
// deterministic stream passes them. The p11 layer also refuses short,
// all-zero and repeated C_GenerateRandom blocks.
//
// # Security
//
//   - HSM bytes are never output: they only seed CTR_DRBG instances, each
//     byte one instance, and the output is never the HSM's alone. A Reader's
//     output reveals nothing about the HSM stream to other consumers of the
//     HSM, and an HSM that is broken or hostile cannot weaken the output
//     below the OS source.
//   - Wiping: the buffer wipes each HSM byte as it hands it out, and wipes
//     quarantined bytes; a live GetRandom wipes its HSM bytes once its
//     reseeds have consumed them; the mixer wipes its inputs once consumed and its
//     buffers as it serves them; Close wipes everything that is left.
//     C_GenerateRandom writes straight into a Go slice (on Unix; elsewhere
//     miekg/pkcs11 copies it from a C buffer that it frees without zeroing),
//     which is wiped after use. One copy is out of reach: crypto/aes's key
//     schedules are left to the garbage collector.
//   - PINs: a Config's PIN is a []byte, copied by Open and wiped on Close;
//     fmt never prints it, and no error contains it. A wrong PIN is
//     presented once and never retried, since retries lock tokens, and not
//     at all when the token reports its user PIN locked or on its final try
//     ([ErrLogin]; Stats.Tokens shows CKF_USER_PIN_COUNT_LOW). A pin-source
//     file is read with a 256-byte bound. Prefer a
//     pin-source file to pin-value in a URI or VAULT_HSM_PIN, which arrive
//     as strings and cannot be wiped.
//
// # Not supported
//
// Selecting objects or keys (the URI's object, type and id are ignored);
// C_SeedRandom feedback to the token; restoring a source after a permanent
// health failure without reopening (Close and Open again).
package hsmrand
