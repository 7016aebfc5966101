//go:build !linux

package main

import "crypto/rand"

// osRandom reads the operating system's source through crypto/rand.
func osRandom(p []byte) (int, error) { return rand.Read(p) }
