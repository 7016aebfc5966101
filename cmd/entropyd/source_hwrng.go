package main

// The hardware RNG (/dev/hwrng) is a character device read like a file
// (fileSource). The kernel's own hwrng thread already feeds the pool from it
// (rng_quality); reading it from user space competes with that thread, so it
// is off by default (--hwrng) and rate-limited (--hwrng-rate): here it serves
// health testing and mixing.

// hwrngSourceName names the hardware RNG source in logs and metrics.
const hwrngSourceName = "hwrng"
