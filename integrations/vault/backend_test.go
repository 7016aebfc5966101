package vault

import (
	"context"
	"testing"

	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/helper/keysutil"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keysBackend is a stand-in for Vault's transit engine, whose source
// (builtin/logical/transit in github.com/hashicorp/vault) is under the
// Business Source License and so is not a dependency of this module; the
// real engine is tested in the test-only module ./transit. Like transit's
// path_keys.go and path_rotate.go it creates and rotates keysutil policies
// with framework.Backend.GetRandomReader.
type keysBackend struct {
	*framework.Backend
	lm *keysutil.LockManager
}

func newKeysBackend(ctx context.Context, conf *logical.BackendConfig) (logical.Backend, error) {
	lm, err := keysutil.NewLockManager(true, 0)
	if err != nil {
		return nil, err
	}
	b := &keysBackend{lm: lm}
	b.Backend = &framework.Backend{
		BackendType: logical.TypeLogical,
		Paths: []*framework.Path{
			{
				Pattern: "keys/" + framework.GenericNameRegex("name"),
				Fields: map[string]*framework.FieldSchema{
					"name":     {Type: framework.TypeString},
					"type":     {Type: framework.TypeString},
					"key_size": {Type: framework.TypeInt},
				},
				Operations: map[logical.Operation]framework.OperationHandler{
					logical.UpdateOperation: &framework.PathOperation{Callback: b.create},
				},
			},
			{
				Pattern: "keys/" + framework.GenericNameRegex("name") + "/rotate",
				Fields:  map[string]*framework.FieldSchema{"name": {Type: framework.TypeString}},
				Operations: map[logical.Operation]framework.OperationHandler{
					logical.UpdateOperation: &framework.PathOperation{Callback: b.rotate},
				},
			},
		},
	}
	if err := b.Setup(ctx, conf); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *keysBackend) create(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	var kt *keyType
	for i := range transitKeyTypes {
		if transitKeyTypes[i].name == d.Get("type").(string) {
			kt = &transitKeyTypes[i]
		}
	}
	if kt == nil {
		return logical.ErrorResponse("unknown key type"), logical.ErrInvalidRequest
	}
	p, _, err := b.lm.GetPolicy(ctx, keysutil.PolicyRequest{
		Storage: req.Storage,
		Name:    d.Get("name").(string),
		KeyType: kt.kt,
		KeySize: d.Get("key_size").(int),
		Upsert:  true,
	}, b.GetRandomReader())
	if err != nil {
		return nil, err
	}
	// With the cache on, GetPolicy returns the policy unlocked; transit then
	// locks it for the rest of the request (path_keys.go).
	p.Lock(true)
	defer p.Unlock()
	return nil, nil
}

func (b *keysBackend) rotate(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	p, _, err := b.lm.GetPolicy(ctx, keysutil.PolicyRequest{Storage: req.Storage, Name: d.Get("name").(string)}, b.GetRandomReader())
	if err != nil || p == nil {
		return logical.ErrorResponse("no such key"), err
	}
	p.Lock(true)
	defer p.Unlock()
	return nil, p.Rotate(ctx, req.Storage, b.GetRandomReader())
}

// TestRequestPath creates and rotates a key of every transit type through a
// backend's request path (HandleRequest, as Vault's router calls it, without
// HTTP), with the backend built by Factory over the source. Each request
// draws from the source exactly what keysutil takes for one key version.
func TestRequestPath(t *testing.T) {
	ctx := context.Background()
	src, drawn := openSource(t)
	storage := new(logical.InmemStorage)
	conf := logical.TestBackendConfig()
	conf.StorageView = storage
	b, err := Factory(newKeysBackend, src)(ctx, conf)
	require.NoError(t, err)
	for _, k := range transitKeyTypes {
		data := map[string]any{"type": k.name}
		if k.keySize != 0 {
			data["key_size"] = k.keySize
		}
		for _, req := range []*logical.Request{
			{Operation: logical.UpdateOperation, Path: "keys/k-" + k.name, Data: data},
			{Operation: logical.UpdateOperation, Path: "keys/k-" + k.name + "/rotate"},
		} {
			req.Storage = storage
			before := drawn()
			resp, err := b.HandleRequest(ctx, req)
			require.NoError(t, err, req.Path)
			require.False(t, resp.IsError(), "%s: error response %v", req.Path, resp)
			assert.Equal(t, uint64(k.drawsPerVersion()), drawn()-before, "%s: bytes drawn from the source", req.Path)
		}
	}
}
