//go:build !(linux && cgo)

package p11

// cHeapInUse returns -1: the C heap's use is known only on Linux with glibc.
func cHeapInUse() int64 { return -1 }
