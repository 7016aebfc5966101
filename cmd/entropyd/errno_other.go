//go:build !unix

package main

import "syscall"

// errnoName returns "": symbolic names are known on Unix only.
func errnoName(syscall.Errno) string { return "" }
