package transit

import (
	"encoding/base64"
	"os"
	"testing"

	"github.com/hashicorp/vault/builtin/logical/transit"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hsmentropy/hsmentropy/hsmrand"
	"github.com/hsmentropy/hsmentropy/integrations/vault"
	"github.com/hsmentropy/hsmentropy/internal/softhsmtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The SoftHSM token behind the Reader, created by TestMain before the
// first C_Initialize (SoftHSM reads SOFTHSM2_CONF once per process).
var hsm struct {
	err   error
	token *softhsmtest.Token
}

func TestMain(m *testing.M) {
	os.Exit(softhsmtest.Run(m, "transit-softhsm-", &hsm.err, func(root string) error {
		d, err := softhsmtest.NewDirEnv(root)
		if err != nil {
			return err
		}
		hsm.token, err = d.InitToken("transit", "", "")
		return err
	}))
}

// hmacSubkeySize is the HMAC key keysutil draws for every key version
// except HMAC keys (sdk/helper/keysutil, RotateInMemory).
const hmacSubkeySize = 32

// transitKeyTypes are the key types Vault Community Edition's transit
// creates itself, with the bytes one key version takes from the backend's
// reader: the HMAC subkey plus the key's own material. ECDSA keys take only
// the subkey, since keysutil generates them from crypto/rand.Reader; RSA
// takes a 64-byte HMAC_DRBG seed (go-secure-stdlib/cryptoutil) that Go
// 1.26's crypto/rsa then ignores unless GODEBUG=cryptocustomrand=1 (see
// docs/vault.md and integrations/vault's TestKeyTypes, which covers RSA 3072
// and 4096 too; they are left out here because they are slow under -race).
var transitKeyTypes = []struct {
	name  string
	draws uint64
}{
	{"aes128-gcm96", hmacSubkeySize + 16},
	{"aes256-gcm96", hmacSubkeySize + 32},
	{"chacha20-poly1305", hmacSubkeySize + 32},
	{"ed25519", hmacSubkeySize + 32},
	{"hmac", 32}, // HMACKey = Key, key_size 32
	{"ecdsa-p256", hmacSubkeySize},
	{"ecdsa-p384", hmacSubkeySize},
	{"ecdsa-p521", hmacSubkeySize},
	{"rsa-2048", hmacSubkeySize + 64},
}

// TestTransitDrawsOnHSM runs Vault's real transit backend over a
// SystemView wrapped with an hsmrand.Reader on a SoftHSM token, through
// the request path (HandleRequest, no HTTP): it creates and rotates a key
// of each type, checks how many bytes each took from the Reader, and uses
// the keys, so that they are real keys and not just counted reads.
func TestTransitDrawsOnHSM(t *testing.T) {
	softhsmtest.Need(t, hsm.err)
	ctx := t.Context()
	uri := "pkcs11:token=" + hsm.token.Label + "?module-path=" + hsm.token.Module
	r, err := hsmrand.Open(ctx, hsmrand.Config{URI: uri})
	require.NoError(t, err)
	defer r.Close()

	storage := &logical.InmemStorage{}
	conf := logical.TestBackendConfig()
	conf.StorageView = storage
	b, err := vault.Factory(transit.Factory, r)(ctx, conf)
	require.NoError(t, err)
	// do takes the t of the (sub)test that calls it: require must stop
	// the goroutine it runs on.
	do := func(t *testing.T, op logical.Operation, path string, data map[string]any) *logical.Response {
		t.Helper()
		resp, err := b.HandleRequest(ctx, &logical.Request{Operation: op, Path: path, Storage: storage, Data: data})
		require.NoError(t, err, "%s %s", op, path)
		require.False(t, resp.IsError(), "%s %s: error response %v", op, path, resp) // IsError is false for nil
		return resp
	}
	served := func() uint64 { return r.Stats().BytesServed }

	for _, k := range transitKeyTypes {
		t.Run(k.name, func(t *testing.T) {
			data := map[string]any{"type": k.name}
			if k.name == "hmac" {
				data["key_size"] = 32
			}
			for _, step := range []string{"create", "rotate"} {
				path := "keys/" + k.name
				if step == "rotate" {
					path += "/rotate"
					data = nil
				}
				before := served()
				do(t, logical.UpdateOperation, path, data)
				drew := served() - before
				t.Logf("%s %s: %d bytes from hsmrand", step, k.name, drew)
				assert.Equal(t, k.draws, drew, "%s: bytes drawn from hsmrand", step)
			}
			st := do(t, logical.ReadOperation, "keys/"+k.name, nil)
			assert.Equal(t, 2, st.Data["latest_version"], "latest_version after a rotation")
		})
	}

	// The keys work: an AES round trip, and an Ed25519 signature checked.
	plain := base64.StdEncoding.EncodeToString([]byte("drawn on the HSM"))
	ct := do(t, logical.UpdateOperation, "encrypt/aes256-gcm96", map[string]any{"plaintext": plain}).Data["ciphertext"]
	got := do(t, logical.UpdateOperation, "decrypt/aes256-gcm96", map[string]any{"ciphertext": ct}).Data["plaintext"]
	assert.Equal(t, plain, got, "decrypt")
	sig := do(t, logical.UpdateOperation, "sign/ed25519", map[string]any{"input": plain}).Data["signature"]
	valid := do(t, logical.UpdateOperation, "verify/ed25519", map[string]any{"input": plain, "signature": sig}).Data["valid"]
	assert.Equal(t, true, valid, "verify")
	st := r.Stats()
	assert.NotZero(t, st.HSMBytes, "Stats: no HSM bytes drawn: the HSM is not behind transit")
	assert.NotZero(t, st.HSMUsed, "Stats: no HSM bytes used: the HSM is not behind transit")

	// Without the wrapper, transit never reads hsmrand.
	plainConf := logical.TestBackendConfig()
	plainConf.StorageView = &logical.InmemStorage{}
	unwrapped, err := transit.Factory(ctx, plainConf)
	require.NoError(t, err)
	before := served()
	resp, err := unwrapped.HandleRequest(ctx, &logical.Request{Operation: logical.UpdateOperation, Path: "keys/plain",
		Storage: plainConf.StorageView, Data: map[string]any{"type": "aes256-gcm96"}})
	require.NoError(t, err, "unwrapped transit")
	require.False(t, resp.IsError(), "unwrapped transit: error response %v", resp)
	assert.Zero(t, served()-before, "bytes unwrapped transit drew from hsmrand")
}
