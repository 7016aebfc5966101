// Package refill holds what hsmrand's pool and entropyd's engine share in
// buffering health-tested seed material: Ring, a fixed-size queue of secret
// bytes that zeroes every byte as it leaves and lets none wait longer than
// a maximum age; Check, the one step that health-tests a block and says
// what it means for the source (a Verdict: up, starting up, intermittent or
// permanent failure), with a failed block wiped; and Sleep, the wait of
// their refill loops.
//
// What they do not share, and why: the loops, and what each does with a
// Verdict. hsmrand's refiller tops up a buffer from one HSM, quarantines a
// failing request and everything buffered before it, probes an idle HSM
// and keeps the stream's down/failed state for many readers; the engine's
// worker reads any source at a configured rate, backs off or waits for an
// upstream, and reports states (healthy once the tester is operational,
// degraded after an intermittent failure) to a feed loop.
package refill
