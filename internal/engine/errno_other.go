//go:build !unix

package engine

import "syscall"

// errnoName returns "": symbolic names are known on Unix only.
func errnoName(syscall.Errno) string { return "" }
