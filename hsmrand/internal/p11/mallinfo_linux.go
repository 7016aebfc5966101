//go:build linux && cgo

package p11

/*
#include <malloc.h>

static long long p11_heap_in_use(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
	struct mallinfo2 mi = mallinfo2();
	return (long long)(mi.uordblks + mi.hblkhd);
#else
	return -1;
#endif
}
*/
import "C"

// cHeapInUse returns the bytes the C heap has handed out and not had back
// (glibc's mallinfo2: arena chunks in use and mmapped chunks), or -1 where
// that is not known. TestFailedGenerateRandomLeaksNothing uses it.
func cHeapInUse() int64 { return int64(C.p11_heap_in_use()) }
