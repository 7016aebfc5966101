package vault

import (
	"github.com/hashicorp/go-kms-wrapping/entropy/v2"
	"github.com/hashicorp/vault/sdk/logical"
)

// Interfaces a wrapped view must keep, checked at compile time.
var (
	_ logical.SystemView         = sourcedView{}
	_ entropy.Sourcer            = sourcedView{}
	_ logical.ExtendedSystemView = sourcedExtendedView{}
	_ logical.SystemView         = sourcedExtendedView{}
	_ entropy.Sourcer            = sourcedExtendedView{}
)

// WithEntropy returns a SystemView that answers like sys and also implements
// [entropy.Sourcer] by calling src.GetRandom, so that
// framework.Backend.GetRandomReader on a backend set up with it returns a
// reader over src. When sys implements [logical.ExtendedSystemView], so does
// the result. When src is nil, sys is returned unchanged; sys must not be nil.
func WithEntropy(sys logical.SystemView, src entropy.Sourcer) logical.SystemView {
	if src == nil {
		return sys
	}
	if ext, ok := sys.(extendedView); ok {
		return sourcedExtendedView{extendedView: ext, src: src}
	}
	return sourcedView{SystemView: sys, src: src}
}

// sourcedView is a SystemView with an entropy source.
type sourcedView struct {
	logical.SystemView
	src entropy.Sourcer
}

// GetRandom returns n bytes from the source, per entropy.Sourcer.
func (v sourcedView) GetRandom(n int) ([]byte, error) { return v.src.GetRandom(n) }

// extendedView is what Vault core hands a builtin backend: a SystemView that
// is also an ExtendedSystemView (vault/extended_system_view.go).
type extendedView interface {
	logical.SystemView
	logical.ExtendedSystemView
}

// sourcedExtendedView is an extendedView with an entropy source.
type sourcedExtendedView struct {
	extendedView
	src entropy.Sourcer
}

// GetRandom returns n bytes from the source, per entropy.Sourcer.
func (v sourcedExtendedView) GetRandom(n int) ([]byte, error) { return v.src.GetRandom(n) }
