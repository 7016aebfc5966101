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
// in the process. So every Token on one library shares one *pkcs11.Ctx, and
// C_Finalize is called only when the last of them closes, and only if this
// package's C_Initialize is the one that started the module. A module that
// answered CKR_CRYPTOKI_ALREADY_INITIALIZED belongs to someone else in the
// process and is never finalised here.
type registry struct {
	mu      sync.Mutex
	modules map[string]*loaded // by the library's resolved path
}

type loaded struct {
	ctx   *pkcs11.Ctx
	refs  int
	owned bool // our C_Initialize started the module
}

// modules is the process-wide registry; see [registry].
var modules = registry{modules: make(map[string]*loaded)}

// acquire returns the initialised module at path and a release function that
// must be called exactly once when the caller is done with it.
func (r *registry) acquire(path string) (*pkcs11.Ctx, func() error, error) {
	key, err := filepath.EvalSymlinks(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("%w: %s does not exist; install the HSM vendor's PKCS#11 library or correct the module path", ErrModule, path)
		}
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrModule, path, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.modules[key]
	if m == nil {
		ctx := pkcs11.New(key)
		if ctx == nil {
			return nil, nil, fmt.Errorf("%w: %s cannot be loaded as a PKCS#11 library (dlopen or C_GetFunctionList failed); check that it is a PKCS#11 module for this architecture and that its dependencies are installed", ErrModule, path)
		}
		m = &loaded{ctx: ctx, owned: true}
		if err := ctx.Initialize(); err != nil {
			if code, _ := ckrOf(err); code != pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED {
				ctx.Destroy()
				return nil, nil, wrapInitialize(err)
			}
			m.owned = false
		}
		r.modules[key] = m
	}
	m.refs++
	var once sync.Once
	release := func() (err error) {
		once.Do(func() { err = r.release(key) })
		return err
	}
	return m.ctx, release, nil
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

func (r *registry) release(key string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.modules[key]
	if m == nil {
		panic("p11: internal error: release of a module that is not loaded")
	}
	if m.refs--; m.refs > 0 {
		return nil
	}
	delete(r.modules, key)
	var err error
	if m.owned {
		if ferr := m.ctx.Finalize(); ferr != nil {
			err = wrapCall("C_Finalize", ferr)
		}
	}
	m.ctx.Destroy()
	return err
}
