package vault

import (
	"context"
	"crypto/rand"
	"io"
	"testing"

	"github.com/hashicorp/go-kms-wrapping/entropy/v2"
	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/helper/pluginutil"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

	require.Implements(t, (*logical.ExtendedSystemView)(nil), ext, "test setup: extendedStatic is not an ExtendedSystemView")
	require.NotImplements(t, (*entropy.Sourcer)(nil), plain, "test setup: StaticSystemView is already an entropy.Sourcer")

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
			require.Implements(t, (*entropy.Sourcer)(nil), v, "wrapped view is not an entropy.Sourcer")
			s := v.(entropy.Sourcer)
			_, ok := v.(logical.ExtendedSystemView)
			assert.Equal(t, tc.extended, ok, "wrapped view implements ExtendedSystemView")
			got, err := s.GetRandom(3)
			assert.NoError(t, err, "GetRandom(3)")
			assert.Equal(t, []byte{0xa5, 0xa5, 0xa5}, got, "GetRandom(3)")
			// A SystemView method still answers from the wrapped view.
			assert.Equal(t, plain.DefaultLeaseTTL(), v.DefaultLeaseTTL(), "default lease TTL")
			assert.Equal(t, plain.MaxLeaseTTL(), v.MaxLeaseTTL(), "max lease TTL")
		})
	}

	v := WithEntropy(plain, nil)
	assert.Same(t, plain, v, "WithEntropy(sys, nil) = %T, want sys unchanged", v)
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
	require.NoError(t, err)
	assert.Same(t, orig, conf.System, "Factory changed the caller's BackendConfig")
	b := lb.(*framework.Backend)
	r := b.GetRandomReader()
	// crypto/rand.Reader is a struct value, not a pointer: Equal, not Same.
	require.NotEqual(t, rand.Reader, r, "GetRandomReader returned crypto/rand.Reader: the source is not seen")

	const n = 1000
	buf := make([]byte, n)
	before := drawn()
	_, err = io.ReadFull(r, buf)
	require.NoError(t, err)
	assert.Equal(t, uint64(n), drawn()-before, "bytes drawn from the source by reading %d from GetRandomReader", n)
	st := src.Stats()
	assert.NotZero(t, st.HSMBytes, "Stats: no bytes from the token: the HSM is not behind the reader")
	assert.NotZero(t, st.HSMUsed, "Stats: no token bytes used by the mixer: the HSM is not behind the reader")

	plain, err := newFrameworkBackend(ctx, logical.TestBackendConfig())
	require.NoError(t, err)
	r = plain.(*framework.Backend).GetRandomReader()
	assert.Equal(t, rand.Reader, r, "unwrapped backend: GetRandomReader = %T, want crypto/rand.Reader", r)
}

func TestFactoryNilConfig(t *testing.T) {
	_, err := Factory(newFrameworkBackend, &fixedSource{})(context.Background(), nil)
	assert.ErrorIs(t, err, errNilConfig, "Factory(nil config)")
}
