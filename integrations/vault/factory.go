package vault

import (
	"context"
	"errors"

	"github.com/hashicorp/go-kms-wrapping/entropy/v2"
	"github.com/hashicorp/vault/sdk/logical"
)

// errNilConfig reports a Factory call without a BackendConfig.
var errNilConfig = errors.New("vault: nil BackendConfig")

// Factory returns a [logical.Factory] that calls f with a copy of its
// BackendConfig whose System is [WithEntropy](conf.System, src). The caller's
// BackendConfig is not changed. A plugin's main passes the result where it
// passed f, for example as plugin.ServeOpts.BackendFactoryFunc.
func Factory(f logical.Factory, src entropy.Sourcer) logical.Factory {
	return func(ctx context.Context, conf *logical.BackendConfig) (logical.Backend, error) {
		if conf == nil {
			return nil, errNilConfig
		}
		c := *conf
		c.System = WithEntropy(conf.System, src)
		return f(ctx, &c)
	}
}
