package main

import (
	"crypto/rand"
	"errors"

	"golang.org/x/sys/unix"
)

// osRandom reads the kernel's CRNG with GRND_INSECURE, which never blocks:
// before the kernel RNG is ready (an initramfs) getrandom(2) without it would
// wait for the very seeding entropyd is there to help with. The OS bytes are
// never credited as entropy. Kernels before 5.6 lack the flag (EINVAL): then
// crypto/rand.
func osRandom(p []byte) (int, error) {
	n, err := unix.Getrandom(p, unix.GRND_INSECURE)
	if errors.Is(err, unix.EINVAL) {
		return rand.Read(p)
	}
	if err == nil && n < len(p) {
		m, err := osRandom(p[n:])
		return n + m, err
	}
	return n, err
}
