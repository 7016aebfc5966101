// Package engine is entropyd's engine: it reads entropy sources, runs the
// SP 800-90B health tests on each, combines their tested bytes into the
// seed of an SP 800-90A CTR_DRBG (package mixer) and feeds its output to
// the kernel (package kernelfeed). cmd/entropyd gives it a configuration
// and turns its Stats into metrics; nothing here knows flags, HTTP or
// Prometheus.
//
// # Sources
//
// A Source is a name and a byte stream (Open). The engine reads each one in
// its own worker, in chunks at a configured rate, and health-tests every
// chunk with its own health.Tester. Optional behaviour is found by type
// assertion: an HSMStatser has hsmrand's counters reported beside its own
// and counts for readiness; an Upstream (hsmrand's Reader) drives the
// source's state and is waited for instead of backed off from; a Crediter
// delivers bytes resting on less input than their length; a Buffered sets
// its ring's size; an io.Closer is closed when the engine stops. FileSource
// (files, FIFOs, /dev/hwrng) and PKCS11Source are the sources entropyd has;
// the operating system's randomness is always there besides them, read on
// demand as the mixer's OS input.
//
// # States
//
// A source is degraded while its start-up test runs (at start, after an
// intermittent failure, after a restore) and none of its bytes are used;
// healthy once it passes (and, for an Upstream, while the upstream is
// healthy); reconnecting after a failed open or read, reopened with a
// back-off of 100 ms doubling to 30 s, or for an Upstream when the upstream
// is healthy again (one recovery clock, hsmrand's); failed after a
// permanent health failure or when it has nothing more to give
// (ErrExhausted), restored for a new start-up test after RestoreAfter if
// set. Run returns ErrAllFailed when every source that counts has failed.
//
// # Policy decisions
//
//   - Tested bytes wait in a ring of a source's own until a feed takes
//     them, at most one feed interval: a timer wipes older ones, and bytes
//     taken, expired or discarded are zeroed. A failed source's ring is
//     emptied: bytes tested before a failure are not used after it.
//   - A feed XORs equal blocks from every source that delivers within
//     SourceTimeout (a source not healthy now gives only what it already
//     holds). If the sources are independent the XOR has at least the
//     min-entropy of the strongest of them (package mixer's Security
//     argument, applied source by source), and no more is claimed: a feed
//     credits the kernel at most CreditBits per byte of the strongest
//     contributor's input drawn for it (kernelfeed's Crediting rule).
//   - With no other source delivering and UseOS set, the mixer is seeded
//     from the OS alone and the feed is uncredited (crediting the kernel's
//     own bytes back to it would count them twice); without UseOS the feed
//     fails.
//   - The OS source reads getrandom(2) with GRND_INSECURE (OSReader): OS
//     bytes are never what the engine counts on for strength before the
//     kernel is ready, only the mixers' additional input.
//   - A token source (PKCS11Config) fails closed, with one shard and
//     prediction resistance, so that every read takes fresh token bytes;
//     its buffered token bytes last at most one feed interval, in the
//     smallest buffer hsmrand allows.
//
// # Recording
//
// Record copies a source's raw bytes (RawOpener: no health test, no mixing)
// for an SP 800-90B assessment, opening the source afresh for each row of a
// restart test. It never opens a PKCS#11 token: raw HSM bytes are never
// written anywhere.
package engine
