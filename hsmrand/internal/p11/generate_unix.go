//go:build unix

package p11

/*
#cgo linux LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

typedef unsigned long p11_ulong; // CK_ULONG on every Unix ABI

// p11_list is the start of CK_FUNCTION_LIST (PKCS#11 v2.40, Section 5.4;
// without packing on Unix): a CK_VERSION, then one pointer per function in
// the order of pkcs11f.h, where C_GenerateRandom is the 65th.
typedef p11_ulong (*p11_generate_fn)(p11_ulong session, unsigned char *out, p11_ulong len);
struct p11_list {
	unsigned char major, minor;
	void *before[64];
	p11_generate_fn C_GenerateRandom;
};

// p11_function_list returns the function list of the library at path, which
// must already be loaded (RTLD_NOLOAD), or NULL. The handle it opens is
// never closed, so the list stays mapped for the life of the process.
static void *p11_function_list(const char *path) {
	void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	if (h == NULL)
		return NULL;
	p11_ulong (*get)(struct p11_list **) = (p11_ulong (*)(struct p11_list **))dlsym(h, "C_GetFunctionList");
	struct p11_list *list = NULL, *again = NULL;
	if (get == NULL || get(&list) != 0 || list == NULL || list->C_GenerateRandom == NULL)
		return NULL;
	// A module that hands out a new function list at every call (p11-kit's
	// client does: each list is its own instance, initialised apart) would
	// answer CKR_CRYPTOKI_NOT_INITIALIZED through this one: only a module
	// with one list can be called here.
	if (get(&again) != 0 || again != list)
		return NULL;
	return list;
}

static p11_ulong p11_generate(void *list, p11_ulong session, unsigned char *out, p11_ulong len) {
	return ((struct p11_list *)list)->C_GenerateRandom(session, out, len);
}
*/
import "C"

import (
	"unsafe"

	"github.com/miekg/pkcs11"
)

// directRNG is a *pkcs11.Ctx whose GenerateRandom calls the library's
// C_GenerateRandom itself, into Go memory.
//
// miekg/pkcs11's GenerateRandom callocs a C buffer for each call and frees
// it only when the call succeeds: every failed C_GenerateRandom (a device
// error, a removed token, a closed session) leaked its whole request, up to
// 64 KiB, which a token that fails for an hour turned into megabytes (make
// soak found it: entropyd's resident memory grew without bound while its Go
// heap stayed flat). It also freed the buffer it copied the bytes from
// without zeroing it. Here the library writes straight into a Go slice,
// which the caller wipes: nothing is allocated in C and no copy is left
// behind.
type directRNG struct {
	*pkcs11.Ctx
	list unsafe.Pointer // the library's CK_FUNCTION_LIST
}

// withDirectRNG returns ctx with GenerateRandom replaced, or ctx itself if
// the library's function list cannot be found again, or is not one list
// for the whole process (p11-kit's client makes a new one at every
// C_GetFunctionList); it then keeps miekg/pkcs11's leak on failed calls,
// and works. The registry never
// unloads a library, and re-initialising one (C_Finalize, C_Initialize)
// keeps its function list where it was.
func withDirectRNG(ctx *pkcs11.Ctx, path string) initer {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	list := C.p11_function_list(cpath)
	if list == nil {
		return ctx
	}
	return directRNG{Ctx: ctx, list: list}
}

// GenerateRandom is C_GenerateRandom into a new slice of length bytes.
func (m directRNG) GenerateRandom(sh pkcs11.SessionHandle, length int) ([]byte, error) {
	if length <= 0 {
		return nil, pkcs11.Error(pkcs11.CKR_ARGUMENTS_BAD)
	}
	b := make([]byte, length)
	if rv := C.p11_generate(m.list, C.p11_ulong(sh), (*C.uchar)(unsafe.Pointer(&b[0])), C.p11_ulong(length)); rv != 0 {
		clear(b)
		return nil, pkcs11.Error(rv)
	}
	return b, nil
}
