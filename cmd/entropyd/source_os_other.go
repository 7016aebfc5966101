//go:build !linux

package main

import (
	"crypto/rand"
	"io"
)

// osInput is the OS reader entropyd gives hsmrand (Options.OS) and its own
// OS source: crypto/rand.
func osInput() io.Reader { return rand.Reader }

// osRandom reads the operating system's source through crypto/rand.
func osRandom(p []byte) (int, error) { return rand.Read(p) }
