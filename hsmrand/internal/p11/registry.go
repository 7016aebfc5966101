package p11

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/miekg/pkcs11"
)

// registry holds the PKCS#11 modules this process has loaded, one per
// library path, with a count of the Tokens using each.
//
// It is the package's one piece of global state, and it has to be: a module
// is C_Initialize'd once per process, and C_Finalize ends it for every user
// in the process. So every Token on one library shares one [library].
//
// A module is never finalised when its last Token closes: other code in the
// process (a second miekg/pkcs11 handle that got
// CKR_CRYPTOKI_ALREADY_INITIALIZED, a Vault seal) may be using it, and
// C_Finalize would end its sessions and make its next call fail with
// CKR_CRYPTOKI_NOT_INITIALIZED. The module stays loaded and initialised
// until the process exits, as most PKCS#11 applications leave it; a later
// Open reuses it. The only C_Finalize this package ever calls is the one
// that re-initialises a module for recovery ([library.reinitialize]).
type registry struct {
	mu      sync.Mutex
	modules map[string]*library // by the library's resolved path
}

// modules is the process-wide registry; see [registry].
var modules = registry{modules: make(map[string]*library)}

// acquire returns the initialised module at path and a release function that
// must be called exactly once when the caller is done with it.
func (r *registry) acquire(path string) (*library, func() error, error) {
	key, err := filepath.EvalSymlinks(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("%w: %s does not exist; install the HSM vendor's PKCS#11 library or correct the module path", ErrModule, path)
		}
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrModule, path, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.modules[key]
	if l == nil {
		ctx := pkcs11.New(key)
		if ctx == nil {
			return nil, nil, fmt.Errorf("%w: %s cannot be loaded as a PKCS#11 library (dlopen or C_GetFunctionList failed); check that it is a PKCS#11 module for this architecture and that its dependencies are installed", ErrModule, path)
		}
		l = &library{initer: withDirectRNG(ctx, key), owned: true, up: true}
		if err := ctx.Initialize(); err != nil {
			if code, _ := ckrOf(err); code != pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED {
				ctx.Destroy()
				return nil, nil, wrapInitialize(err)
			}
			l.owned = false
		}
		r.modules[key] = l
	}
	l.refs++
	var once sync.Once
	release := func() error {
		once.Do(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if l.refs--; l.refs < 0 {
				panic("p11: internal error: release of a module that is not held")
			}
		})
		return nil
	}
	return l, release, nil
}

// wrapInitialize classifies a failed C_Initialize: whatever the code, the
// module is unusable, so it matches ErrModule.
func wrapInitialize(err error) error {
	e := wrapCall("C_Initialize", err)
	var pe *Error
	if errors.As(e, &pe) {
		pe.class = ErrModule
	}
	return e
}
