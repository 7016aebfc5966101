package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// isTerminal reports whether v is an *os.File open on a terminal: one that
// answers the TCGETS ioctl (a character device such as /dev/null does not).
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
