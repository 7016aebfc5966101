package engine

import "strings"

// all returns every source, the OS first.
func (e *Engine) all() []*worker {
	return append([]*worker{e.os.src}, e.primaries...)
}

// AllFailed reports whether every source that counts has failed.
func (e *Engine) AllFailed() bool {
	return e.allPrimariesFailed() && (!e.cfg.UseOS || e.os.src.getState() == StateFailed)
}

// allPrimariesFailed reports whether every primary has failed.
func (e *Engine) allPrimariesFailed() bool {
	for _, p := range e.primaries {
		if p.getState() != StateFailed {
			return false
		}
	}
	return true
}

// anyHealthy reports whether a primary is healthy.
func (e *Engine) anyHealthy() bool {
	for _, p := range e.primaries {
		if p.getState() == StateHealthy {
			return true
		}
	}
	return false
}

// String lists the sources' names, the OS first, separated by commas.
func (e *Engine) String() string {
	var names []string
	for _, p := range e.all() {
		names = append(names, p.name)
	}
	return strings.Join(names, ",")
}

// Readiness reports whether the engine is doing what it is configured for:
// the first feed is done, a source is usable, and, when HSM sources
// (HSMStatser) are configured, at least one of them is healthy. While every
// HSM source is down the kernel is still fed (from the other sources, or
// uncredited from the OS alone), but not with the HSM's randomness, which is
// what the operator deployed entropyd for. The reason names each HSM
// source's state and last error.
func (e *Engine) Readiness() (bool, string) {
	if !e.ready.Load() {
		return false, "the first feed has not happened"
	}
	var hsm []string
	for _, s := range e.primaries {
		if s.hsm == nil {
			continue
		}
		if s.getState() == StateHealthy {
			hsm = nil
			break
		}
		why := s.name + " is " + s.getState().String()
		if err := s.hsm.HSMStats().LastError; err != "" {
			why += ": " + err
		}
		hsm = append(hsm, why)
	}
	switch {
	case len(hsm) > 0:
		return false, "every HSM source is down (" + strings.Join(hsm, "; ") + "); feeding the kernel without the HSM"
	case !e.anyHealthy() && !(e.cfg.UseOS && e.os.src.getState() != StateFailed):
		return false, "no healthy source"
	}
	return true, ""
}
