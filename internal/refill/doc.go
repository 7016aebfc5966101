// Package refill holds what hsmrand's pool and entropyd's engine share in
// buffering health-tested seed material: Ring, a fixed-size queue of secret
// bytes that zeroes every byte as it leaves and lets none wait longer than
// a maximum age, and Sleep, the wait of their refill loops.
//
// What they do not share, and why: the loops themselves. hsmrand's
// refiller tops up a buffer from one HSM, quarantines a failing request
// and everything buffered before it, probes an idle HSM and keeps the
// stream's down/failed state for many readers; the engine's worker reads
// any source at a configured rate, backs off or waits for an upstream, and
// reports states to a feed loop. Their "test a chunk, then change state"
// steps differ in what a failure wipes and whom it tells, so each keeps its
// own, over the same health.Tester.
package refill
