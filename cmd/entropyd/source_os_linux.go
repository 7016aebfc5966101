package main

import (
	"crypto/rand"
	"errors"
	"io"

	"golang.org/x/sys/unix"
)

// kernelRandom reads the kernel's CRNG with GRND_INSECURE, which never
// blocks: before the kernel RNG is ready (an initramfs, early boot)
// getrandom(2) without it, and so crypto/rand, would wait for the very
// seeding entropyd is there to help with. Once the kernel is ready the flag
// changes nothing.
//
// The policy that makes this safe: OS bytes are never what entropyd counts
// on for strength before the kernel is ready. They are only the mixers'
// personalization strings and additional input (hsmrand's inside the
// PKCS#11 source, and entropyd's own), XORed in beside the HSM's (or
// another source's) seed material, which carries the seed; a feed seeded
// from the OS alone is fed uncredited. Kernels before 5.6 lack the flag
// (EINVAL): then crypto/rand.
type kernelRandom struct {
	// getrandom is unix.Getrandom; tests put a kernel that is not ready in
	// its place.
	getrandom func(p []byte, flags int) (int, error)
}

// osInput is the OS reader entropyd gives hsmrand (Options.OS) and its own
// OS source.
func osInput() kernelRandom { return kernelRandom{getrandom: unix.Getrandom} }

// Read fills p.
func (k kernelRandom) Read(p []byte) (int, error) {
	filled := 0
	for filled < len(p) {
		n, err := k.getrandom(p[filled:], unix.GRND_INSECURE)
		if errors.Is(err, unix.EINVAL) {
			m, err := io.ReadFull(rand.Reader, p[filled:])
			return filled + m, err
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return filled, err
		}
		filled += n
	}
	return filled, nil
}

// osRandom reads the kernel's CRNG without waiting for it to be ready.
func osRandom(p []byte) (int, error) { return osInput().Read(p) }
