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
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	storage := &logical.InmemStorage{}
	conf := logical.TestBackendConfig()
	conf.StorageView = storage
	b, err := vault.Factory(transit.Factory, r)(ctx, conf)
	if err != nil {
		t.Fatal(err)
	}
	do := func(op logical.Operation, path string, data map[string]any) *logical.Response {
		t.Helper()
		resp, err := b.HandleRequest(ctx, &logical.Request{Operation: op, Path: path, Storage: storage, Data: data})
		if err != nil || (resp != nil && resp.IsError()) {
			t.Fatalf("%s %s: %v %v", op, path, err, resp)
		}
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
				do(logical.UpdateOperation, path, data)
				drew := served() - before
				t.Logf("%s %s: %d bytes from hsmrand", step, k.name, drew)
				if drew != k.draws {
					t.Errorf("%s: %d bytes drawn from hsmrand, want %d", step, drew, k.draws)
				}
			}
			if st := do(logical.ReadOperation, "keys/"+k.name, nil); st.Data["latest_version"] != 2 {
				t.Errorf("latest_version %v after a rotation, want 2", st.Data["latest_version"])
			}
		})
	}

	// The keys work: an AES round trip, and an Ed25519 signature checked.
	plain := base64.StdEncoding.EncodeToString([]byte("drawn on the HSM"))
	ct := do(logical.UpdateOperation, "encrypt/aes256-gcm96", map[string]any{"plaintext": plain}).Data["ciphertext"]
	if got := do(logical.UpdateOperation, "decrypt/aes256-gcm96", map[string]any{"ciphertext": ct}).Data["plaintext"]; got != plain {
		t.Errorf("decrypt: %v, want %v", got, plain)
	}
	sig := do(logical.UpdateOperation, "sign/ed25519", map[string]any{"input": plain}).Data["signature"]
	if ok := do(logical.UpdateOperation, "verify/ed25519", map[string]any{"input": plain, "signature": sig}).Data["valid"]; ok != true {
		t.Errorf("verify: %v, want true", ok)
	}
	if st := r.Stats(); st.HSMBytes == 0 || st.HSMUsed == 0 {
		t.Errorf("Stats: %d HSM bytes drawn, %d used: the HSM is not behind transit", st.HSMBytes, st.HSMUsed)
	}

	// Without the wrapper, transit never reads hsmrand.
	plainConf := logical.TestBackendConfig()
	plainConf.StorageView = &logical.InmemStorage{}
	unwrapped, err := transit.Factory(ctx, plainConf)
	if err != nil {
		t.Fatal(err)
	}
	before := served()
	resp, err := unwrapped.HandleRequest(ctx, &logical.Request{Operation: logical.UpdateOperation, Path: "keys/plain",
		Storage: plainConf.StorageView, Data: map[string]any{"type": "aes256-gcm96"}})
	if err != nil || resp.IsError() {
		t.Fatalf("unwrapped transit: %v %v", err, resp)
	}
	if drew := served() - before; drew != 0 {
		t.Errorf("unwrapped transit drew %d bytes from hsmrand, want 0", drew)
	}
}
