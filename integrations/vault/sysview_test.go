package vault

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"testing"

	"github.com/hashicorp/go-kms-wrapping/entropy/v2"
	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/helper/pluginutil"
	"github.com/hashicorp/vault/sdk/logical"
)

// extendedStatic is a StaticSystemView completed into an ExtendedSystemView,
// as Vault core's extendedSystemViewImpl is.
type extendedStatic struct{ *logical.StaticSystemView }

func (extendedStatic) RequestWellKnownRedirect(context.Context, string, string) error { return nil }
func (extendedStatic) DeregisterWellKnownRedirect(context.Context, string) bool       { return false }
func (extendedStatic) GetPinnedPluginVersion(context.Context, consts.PluginType, string) (*pluginutil.PinnedVersion, error) {
	return nil, nil
}

// fixedSource serves a repeated byte and counts requests.
type fixedSource struct {
	b     byte
	calls int
}

func (f *fixedSource) GetRandom(n int) ([]byte, error) {
	f.calls++
	p := make([]byte, n)
	for i := range p {
		p[i] = f.b
	}
	return p, nil
}

func TestWithEntropyInterfaces(t *testing.T) {
	src := &fixedSource{b: 0xa5}
	plain := logical.TestSystemView()
	ext := extendedStatic{plain}

	if _, ok := logical.SystemView(ext).(logical.ExtendedSystemView); !ok {
		t.Fatal("test setup: extendedStatic is not an ExtendedSystemView")
	}
	if _, ok := logical.SystemView(plain).(entropy.Sourcer); ok {
		t.Fatal("test setup: StaticSystemView is already an entropy.Sourcer")
	}

	for _, tc := range []struct {
		name     string
		sys      logical.SystemView
		extended bool
	}{
		{"StaticSystemView", plain, false},
		{"ExtendedSystemView", ext, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := WithEntropy(tc.sys, src)
			s, ok := v.(entropy.Sourcer)
			if !ok {
				t.Fatal("wrapped view is not an entropy.Sourcer")
			}
			if _, ok := v.(logical.ExtendedSystemView); ok != tc.extended {
				t.Errorf("wrapped view implements ExtendedSystemView: %v, want %v", ok, tc.extended)
			}
			got, err := s.GetRandom(3)
			if err != nil || string(got) != "\xa5\xa5\xa5" {
				t.Errorf("GetRandom(3) = %x, %v; want a5a5a5, nil", got, err)
			}
			// A SystemView method still answers from the wrapped view.
			if v.DefaultLeaseTTL() != plain.DefaultLeaseTTL() || v.MaxLeaseTTL() != plain.MaxLeaseTTL() {
				t.Errorf("lease TTLs %v/%v, want %v/%v", v.DefaultLeaseTTL(), v.MaxLeaseTTL(), plain.DefaultLeaseTTL(), plain.MaxLeaseTTL())
			}
		})
	}

	if v := WithEntropy(plain, nil); v != logical.SystemView(plain) {
		t.Errorf("WithEntropy(sys, nil) = %T, want sys unchanged", v)
	}
}

// newFrameworkBackend is a logical.Factory for an empty framework.Backend.
func newFrameworkBackend(ctx context.Context, conf *logical.BackendConfig) (logical.Backend, error) {
	b := &framework.Backend{BackendType: logical.TypeLogical}
	if err := b.Setup(ctx, conf); err != nil {
		return nil, err
	}
	return b, nil
}

// TestGetRandomReader checks framework.Backend.GetRandomReader, the hook
// every Vault backend asks for key material, with and without the wrapper.
func TestGetRandomReader(t *testing.T) {
	ctx := context.Background()
	src, drawn := openSource(t)

	conf := logical.TestBackendConfig()
	orig := conf.System
	lb, err := Factory(newFrameworkBackend, src)(ctx, conf)
	if err != nil {
		t.Fatal(err)
	}
	if conf.System != orig {
		t.Error("Factory changed the caller's BackendConfig")
	}
	b := lb.(*framework.Backend)
	r := b.GetRandomReader()
	if r == rand.Reader {
		t.Fatal("GetRandomReader returned crypto/rand.Reader: the source is not seen")
	}

	const n = 1000
	buf := make([]byte, n)
	before := drawn()
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatal(err)
	}
	if got := drawn() - before; got != n {
		t.Errorf("reading %d bytes from GetRandomReader drew %d bytes from the source, want %d", n, got, n)
	}
	if st := src.Stats(); st.HSMBytes == 0 || st.HSMUsed == 0 {
		t.Errorf("Stats: %d bytes from the token, %d used by the mixer: the HSM is not behind the reader", st.HSMBytes, st.HSMUsed)
	}

	plain, err := newFrameworkBackend(ctx, logical.TestBackendConfig())
	if err != nil {
		t.Fatal(err)
	}
	if r := plain.(*framework.Backend).GetRandomReader(); r != rand.Reader {
		t.Errorf("unwrapped backend: GetRandomReader = %T, want crypto/rand.Reader", r)
	}
}

func TestFactoryNilConfig(t *testing.T) {
	_, err := Factory(newFrameworkBackend, &fixedSource{})(context.Background(), nil)
	if !errors.Is(err, errNilConfig) {
		t.Errorf("Factory(nil config) error = %v, want %v", err, errNilConfig)
	}
}
