//go:build unix

package engine

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// errnoName returns the symbolic name of errno ("EIO"), "" if unknown.
func errnoName(errno syscall.Errno) string {
	return unix.ErrnoName(errno)
}
