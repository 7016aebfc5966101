// Package mixer implements the SP 800-90A Rev. 1 CTR_DRBG with AES-256
// ([CTR], with and without the derivation function) and, on top of it, a
// [Mixer]: an io.Reader whose output mixes a primary entropy source (an
// HSM in hsmrand; any io.Reader here) with the operating system's source
// (crypto/rand by default), so that it is at least as strong as the
// stronger of the two.
//
// # Construction
//
// A Mixer runs a fixed set of shards, each an independent CTR_DRBG with
// AES-256 and no derivation function (SP 800-90A Rev. 1, Section 10.2.1).
// P denotes SeedLen (48) fresh bytes from the primary, O 48 fresh bytes
// from the OS. Within each step P is read before O.
//
//   - Instantiate (Section 10.2.1.3.1): entropy_input = P,
//     personalization_string = O, no nonce.
//   - Reseed (Section 10.2.1.4.1), when the policy of [Config] says so
//     (time, bytes, Generate requests): entropy_input = P,
//     additional_input = O.
//   - Generate (Section 10.2.1.5.1): every request, at most MaxRequest
//     bytes, takes a fresh O as additional_input.
//   - With prediction resistance ([Mixer.ReadPR], or
//     Config.PredictionResistance), every request is the Generate function
//     of Section 9.3.1 with prediction_resistance_request set: Reseed with
//     entropy_input = P and additional_input = O (Step 7.1), then Generate
//     with no additional input (Step 7.3).
//   - [Mixer.ReadPRWith] is ReadPR with the entropy input of its reseeds
//     chosen per call ([Seeding]): bytes the caller drew for this call
//     alone (hsmrand's live GetRandom), or the primary with no fallback to
//     the OS whatever Config.OnPrimaryError says; it reports how many of
//     its reseeds used the OS alone.
//
// Every shard is instantiated and reseeded from its own primary bytes (the
// primary is read by one shard at a time, so no primary bytes are ever
// given to two instances), the primary bytes are never output, and every
// input is zeroed once consumed. These steps are exactly the CAVP flows of
// SP 800-90A: the tests run NIST's CTR_DRBG AES-256 no-df vectors through
// a Mixer, with the primary and OS readers replaying the vectors' inputs
// (no_reseed: New, Read, Read; pr_false: New, a reseed, Read, Read;
// pr_true: New, ReadPR, ReadPR).
//
// # Security argument
//
// Without the derivation function every input is combined with an XOR.
// Instantiate sets seed_material = entropy_input ⊕ personalization_string
// (Section 10.2.1.3.1, Steps 1-3) and the state K‖V = c ⊕ P ⊕ O, where c
// is the public constant E(0, 1)‖E(0, 2)‖E(0, 3) of CTR_DRBG_Update
// (Section 10.2.1.2, Steps 1-4, with Key = V = 0). Reseed sets
// K‖V = E_K(V+1)‖E_K(V+2)‖E_K(V+3) ⊕ P ⊕ O (Section 10.2.1.4.1), and
// Generate, before producing any output, sets K‖V = E_K(V+1..3) ⊕ O
// (Section 10.2.1.5.1, Step 2).
//
// If P and O are independent, then for every value z
// Pr[P⊕O = z] = Σ_o Pr[O = o]·Pr[P = z⊕o] ≤ max_p Pr[P = p], and the same
// with P and O exchanged, so H∞(P⊕O) ≥ max(H∞(P), H∞(O)): the seed carries
// the min-entropy of the stronger source, up to the 384 bits of seedlen,
// and the output has the strength of the stronger source up to CTR_DRBG's
// 256-bit security strength. Independence is why the primary is read
// first: its bytes are fixed before the OS bytes they are XORed with are
// drawn, so a malicious primary could cancel O only by predicting the
// OS's future output. (An attacker who controls the OS can read the
// process's memory, DRBG state included, and is out of scope.)
//
// What an attacker learns who knows one source:
//
//   - All primary bytes (a broken or backdoored HSM, a leaked HSM DRBG
//     state): nothing useful. The state was instantiated with 48 OS bytes
//     the attacker does not know, every reseed XORs in 48 more and every
//     request 48 fresh ones before its output (with ReadPR, through the
//     reseed that precedes it), so the output is as strong as the OS
//     source.
//     Since primary bytes are never output, and each instance gets distinct
//     ones, the output also reveals nothing about the primary to other
//     consumers of the HSM, and shards are not correlated through it.
//   - All OS bytes (a broken kernel RNG, a virtual-machine snapshot that
//     replays it): nothing beyond that. The state still holds the primary's
//     entropy, which the OS bytes cannot cancel, and the output is as
//     strong as the primary.
//   - Both: everything; no construction helps. In particular while the hook
//     chooses ContinueOSOnly, the seedings concerned rest on the OS alone;
//     Stats reports them (OSOnlySeeds, DegradedShards).
//
// A compromise of a shard's state exposes the output still in its buffer
// (at most Config.BufferSize bytes, not yet served) and the output up to
// the next reseed, but no earlier output: every request ends with
// CTR_DRBG_Update, which replaces K and V (backtracking resistance,
// SP 800-90A Rev. 1, Section 8.8). Prediction resistance is regained at the
// next reseed, or at the next request with ReadPR.
//
// In the terms of SP 800-90A Rev. 1, Sections 8.7.1 and 8.7.2, and of
// SP 800-90C, the primary provides the entropy input (the randomness
// source); the OS bytes are personalization string and additional input,
// which may contain entropy that the standards do not credit. The claimed
// security strength therefore rests on the primary, as the standards
// require, and the OS is uncredited defence in depth; a ContinueOSOnly
// seeding is not an SP 800-90C seeding from the primary, which is why it
// is counted.
//
// # Primary source errors
//
// When the primary fails at an instantiation or reseed, Config.OnPrimaryError
// decides: Fail (the New or Read returns an error wrapping ErrPrimary; not
// sticky), Retry (read again; a hook that waits first makes the Read
// block) or ContinueOSOnly (seed from the OS alone, counted); see
// [Decision]. The hook decides for the Mixer as a whole; a caller that
// must not receive output seeded from the OS alone, whatever the hook
// says, reads with [Mixer.ReadPRWith] and the zero [Seeding] (or its own
// OnError), which decides for that call only, and learns from its result
// how many of the call's reseeds used the OS alone: a per-call answer that
// comparing Stats.OSOnlySeeds before and after cannot give while other
// reads run. No output ever depends on the primary alone: the OS bytes go
// into every instantiation, reseed and request whatever the hook decides.
// A failing OS source always fails the read (crypto/rand.Reader never
// fails; it crashes the process instead).
//
// # Speed and allocations
//
// CTR_DRBG re-keys AES after every request (Section 10.2.1.5.1, Step 6),
// which through the public crypto/aes API costs about 1 µs and heap
// allocations: one key schedule per new Key and one cipher.NewCTR stream,
// three per request with additional input, about 1.5 KB (see
// [CTR.Generate]). So each shard generates Config.BufferSize bytes per
// request and serves shorter reads from that buffer, copying then zeroing
// every byte it serves. A read served from the buffer allocates nothing
// (a test asserts it) and costs a lock, a copy and a clear. A read that
// empties the buffer pays for the refill: 3 allocations per BufferSize
// bytes, that is 3 per 512 reads of 32 bytes at the default size, which
// go test -benchmem reports as 0 allocs/op (and 3 B/op).
//
// Reads of BufferSize bytes or more are generated straight into the
// caller's slice, one request per MaxRequest bytes (64 KiB, the 2^19 bits
// of SP 800-90A Rev. 1, Table 3), each with its 48-byte OS read. A 1 MiB
// read is therefore at least 16 requests and makes 48 allocations
// (24 KiB). There is no legitimate allocation-free way through the public
// API: each request must end with a new Key, crypto/aes can neither
// re-key nor reuse a cipher.Block, and pooling blocks cannot help when
// every key is new. Only reaching into crypto/internal (go:linkname)
// would avoid it, which we do not do.
//
// # Concurrency
//
// Shards are padded to cache lines and each has its own mutex; there are
// GOMAXPROCS shards by default, at most MaxShards. A read first tries the
// shard last released on its P (processor), remembered in a sync.Pool,
// whose per-P caches keep each core on its own shard; failing that it
// takes the first shard it can lock without waiting, starting at a random
// one (math/rand/v2, per-thread state, no shared counter), and waits only
// if all are busy. The primary is read by one shard at a time.
//
// # Not supported
//
// The Mixer does not health-test its sources (package health does), does
// not use the derivation function, and cannot zero the AES key schedules
// inside crypto/aes: Close drops them for the garbage collector.
package mixer
