package main

import (
	"net/http"
	"net/http/pprof"
	"runtime/debug"
)

// servePprof adds Go's profiling handlers (net/http/pprof) under
// /debug/pprof/ to mux, for --debug-pprof. They are off by default: a
// profile shows the program's internals (never its key material, which a
// heap profile does not hold, but its call stacks and allocation sites), and
// a CPU or trace profile costs CPU while it runs. They are served on the
// --listen address only, which is the loopback interface by default.
// make soak reads the goroutine count and the heap profile through them,
// and POSTs to /debug/free-os-memory before it reads the resident memory:
// debug.FreeOSMemory hands the heap's free pages back to the kernel, so that
// the figure shows the memory in use rather than how far the runtime's
// scavenger has got (a few MiB either way for entropyd's small heap).
func servePprof(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/free-os-memory", func(w http.ResponseWriter, _ *http.Request) {
		debug.FreeOSMemory()
		w.WriteHeader(http.StatusNoContent)
	})
}
