package vault

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-kms-wrapping/entropy/v2"
	"github.com/hashicorp/vault/sdk/helper/keysutil"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hsmentropy/hsmentropy/hsmrand"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keyType is one transit key type, named as `vault write transit/keys/x type=...` names it.
type keyType struct {
	name    string
	kt      keysutil.KeyType
	keySize int // only for hmac
}

// transitKeyTypes lists every key type Vault Community Edition's transit
// engine creates itself (Enterprise-only and managed types left out).
var transitKeyTypes = []keyType{
	{"aes128-gcm96", keysutil.KeyType_AES128_GCM96, 0},
	{"aes256-gcm96", keysutil.KeyType_AES256_GCM96, 0},
	{"chacha20-poly1305", keysutil.KeyType_ChaCha20_Poly1305, 0},
	{"ed25519", keysutil.KeyType_ED25519, 0},
	{"ecdsa-p256", keysutil.KeyType_ECDSA_P256, 0},
	{"ecdsa-p384", keysutil.KeyType_ECDSA_P384, 0},
	{"ecdsa-p521", keysutil.KeyType_ECDSA_P521, 0},
	{"rsa-2048", keysutil.KeyType_RSA2048, 0},
	{"rsa-3072", keysutil.KeyType_RSA3072, 0},
	{"rsa-4096", keysutil.KeyType_RSA4096, 0},
	{"hmac", keysutil.KeyType_HMAC, hmacKeySize},
}

// hmacKeySize is the HMAC key size the test asks for (transit's smallest
// allowed size is keysutil.HmacMinKeySize).
const hmacKeySize = 32

// hmacSubkeySize is the size of the HMAC key keysutil draws for every key
// entry except HMAC and CMAC keys (policy.go, RotateInMemory).
const hmacSubkeySize = 32

// rsaDRBGSeedSize is what go-secure-stdlib/cryptoutil.GenerateRSAKeyWithHMACDRBG
// reads from the reader to seed its HMAC_DRBG: twice the 256-bit security
// strength, per SP 800-57 Part 1, Table 2.
const rsaDRBGSeedSize = 2 * 256 / 8

// keyMaterialSize is how many bytes of the reader a key type's own key is
// made of when keysutil passes the reader to the generator, or -1 when the
// amount varies (ECDSA and RSA through a custom reader use rejection sampling).
func (k keyType) keyMaterialSize() int {
	switch k.kt {
	case keysutil.KeyType_AES128_GCM96:
		return 128 / 8
	case keysutil.KeyType_AES256_GCM96, keysutil.KeyType_ChaCha20_Poly1305:
		return 256 / 8
	case keysutil.KeyType_ED25519:
		return 32 // ed25519.SeedSize
	case keysutil.KeyType_HMAC:
		return k.keySize
	case keysutil.KeyType_RSA2048, keysutil.KeyType_RSA3072, keysutil.KeyType_RSA4096:
		return rsaDRBGSeedSize
	}
	return 0 // ECDSA: keysutil passes crypto/rand.Reader, never the reader it was given
}

// drawsPerVersion is the exact number of bytes one key version takes from the
// reader keysutil is given.
func (k keyType) drawsPerVersion() int {
	if k.kt == keysutil.KeyType_HMAC {
		return k.keyMaterialSize() // HMACKey = Key
	}
	return hmacSubkeySize + k.keyMaterialSize()
}

func (k keyType) isECDSA() bool {
	return k.kt == keysutil.KeyType_ECDSA_P256 || k.kt == keysutil.KeyType_ECDSA_P384 || k.kt == keysutil.KeyType_ECDSA_P521
}

func (k keyType) isRSA() bool {
	return k.kt == keysutil.KeyType_RSA2048 || k.kt == keysutil.KeyType_RSA3072 || k.kt == keysutil.KeyType_RSA4096
}

// fingerprint hashes the private key material of version ver of p.
func fingerprint(p *keysutil.Policy, ver int) ([32]byte, error) {
	e, ok := p.Keys[fmt.Sprint(ver)]
	if !ok {
		return [32]byte{}, fmt.Errorf("policy %s has no version %d", p.Name, ver)
	}
	switch {
	case e.RSAKey != nil:
		return sha256.Sum256(e.RSAKey.D.Bytes()), nil
	case e.EC_D != nil:
		return sha256.Sum256(e.EC_D.Bytes()), nil
	case len(e.Key) > 0:
		return sha256.Sum256(e.Key), nil
	}
	return [32]byte{}, fmt.Errorf("policy %s version %d holds no private key", p.Name, ver)
}

// createPolicy creates policy k with keysutil's LockManager, as transit's
// path_keys.go does, with randReader. The policy is returned locked.
func createPolicy(ctx context.Context, k keyType, storage logical.Storage, randReader io.Reader) (*keysutil.Policy, error) {
	lm, err := keysutil.NewLockManager(false, 0)
	if err != nil {
		return nil, err
	}
	p, upserted, err := lm.GetPolicy(ctx, keysutil.PolicyRequest{
		Storage: storage,
		Name:    "k-" + k.name,
		KeyType: k.kt,
		KeySize: k.keySize,
		Upsert:  true,
	}, randReader)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", k.name, err)
	}
	if p == nil || !upserted {
		return nil, fmt.Errorf("create %s: no policy created", k.name)
	}
	return p, nil
}

// createAndRotate creates policy k, then rotates it once; both with randReader.
func createAndRotate(ctx context.Context, k keyType, randReader io.Reader) error {
	storage := new(logical.InmemStorage)
	p, err := createPolicy(ctx, k, storage, randReader)
	if err != nil {
		return err
	}
	defer p.Unlock() // GetPolicy without the cache returns the policy locked
	if err := p.Rotate(ctx, storage, randReader); err != nil {
		return fmt.Errorf("rotate %s: %w", k.name, err)
	}
	if p.LatestVersion != 2 {
		return fmt.Errorf("rotate %s: latest version %d, want 2", k.name, p.LatestVersion)
	}
	return nil
}

// determinismRuns is how many times a key is made from identically seeded
// streams. A generator that uses the stream gives at most maxReaderKeys
// distinct keys (crypto/internal/randutil.MaybeReadByte skips one byte half
// the time); one that ignores it gives determinismRuns distinct keys.
const determinismRuns = 4

// minDeterminismRuns is the fewest runs that tell the two apart (two runs
// give two keys either way).
const minDeterminismRuns = 3

// distinctKeys makes version 1 of k from a ChaCha8 stream with a fixed seed,
// several times, and counts the distinct private keys. When global is true the
// stream is also installed as crypto/rand.Reader.
//
// go-secure-stdlib's HMAC_DRBG, through which keysutil makes RSA keys, mixes
// the Unix time in seconds at which it was made into every generate step
// (go-hmac-drbg, NewHmacDrbg), so RSA runs are compared only with runs made
// within the same second: it returns the largest such group's size as runs.
func distinctKeys(ctx context.Context, k keyType, global bool) (distinct, runs int, err error) {
	saved := rand.Reader
	defer func() { rand.Reader = saved }()
	type group struct {
		keys map[[32]byte]bool
		runs int
	}
	groups := map[int64]*group{}
	var best *group
	attempts := determinismRuns
	if k.isRSA() {
		attempts = 2 * determinismRuns
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second))) // start at a second's beginning
	}
	for range attempts {
		stream := mrand.NewChaCha8([32]byte{'h', 's', 'm'})
		if global {
			rand.Reader = stream
		}
		start := time.Now().Unix()
		p, err := createPolicy(ctx, k, new(logical.InmemStorage), stream)
		if err != nil {
			return 0, 0, err
		}
		p.Unlock()
		sec := int64(0) // no clock in the path
		if k.isRSA() {
			if time.Now().Unix() != start {
				continue // the second the DRBG read is unknown
			}
			sec = start
		}
		fp, err := fingerprint(p, 1)
		if err != nil {
			return 0, 0, err
		}
		g := groups[sec]
		if g == nil {
			g = &group{keys: map[[32]byte]bool{}}
			groups[sec] = g
		}
		g.keys[fp] = true
		g.runs++
		if best == nil || g.runs > best.runs {
			best = g
		}
		if best.runs == determinismRuns {
			break
		}
	}
	if best == nil {
		return 0, 0, nil
	}
	return len(best.keys), best.runs, nil
}

// keyTypeResult is what a child process observed for one key type.
type keyTypeResult struct {
	Name     string `json:"name"`
	Drawn    uint64 `json:"drawn"`    // bytes the source served for create + rotate
	Distinct int    `json:"distinct"` // distinct keys over Runs identically seeded runs
	Runs     int    `json:"runs"`     // 0: not measured
}

// Environment of a child process of TestKeyTypes.
const (
	childModeEnv   = "HSMVAULT_KEYTYPES_MODE" // "reader", "install" or "nodrbg"
	childResultEnv = "HSMVAULT_KEYTYPES_RESULT"
)

// TestKeyTypesChild runs only as a child of TestKeyTypes: GODEBUG is read by
// the crypto packages of the whole process, so each setting gets a process.
func TestKeyTypesChild(t *testing.T) {
	mode := os.Getenv(childModeEnv)
	if mode == "" {
		t.Skip("runs only as a child process of TestKeyTypes")
	}
	ctx := context.Background()
	src, drawn := openSource(t)
	if mode == "install" {
		restore := installSource(t, src)
		defer restore()
	}
	randReader := entropy.NewReader(src) // what framework.Backend.GetRandomReader returns
	var results []keyTypeResult
	for _, k := range transitKeyTypes {
		if mode == "nodrbg" && k.kt != keysutil.KeyType_RSA2048 {
			continue
		}
		before := drawn()
		require.NoError(t, createAndRotate(ctx, k, randReader))
		r := keyTypeResult{Name: k.name, Drawn: drawn() - before}
		if mode != "nodrbg" && (!k.isRSA() || k.kt == keysutil.KeyType_RSA2048) { // one RSA size: keygen is slow
			var err error
			r.Distinct, r.Runs, err = distinctKeys(ctx, k, mode == "install")
			require.NoError(t, err)
		}
		results = append(results, r)
	}
	st := src.Stats()
	require.NotZero(t, st.HSMBytes, "the Reader drew no bytes from the token: not served by the HSM")
	require.Equal(t, hsmrand.StateHealthy, st.State, "the Reader's state: not served by the HSM")
	b, err := json.Marshal(results)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(os.Getenv(childResultEnv), b, 0o600))
}

// runKeyTypesChild re-executes the test binary for TestKeyTypesChild with
// the given mode and GODEBUG ("" leaves it unset), and returns its results.
func runKeyTypesChild(t *testing.T, mode, godebug string) map[string]keyTypeResult {
	t.Helper()
	out := t.TempDir() + "/result.json"
	cmd := exec.Command(os.Args[0], "-test.run=^TestKeyTypesChild$", "-test.count=1", "-test.v")
	env := []string{childModeEnv + "=" + mode, childResultEnv + "=" + out}
	if godebug != "" {
		env = append(env, "GODEBUG="+godebug)
	}
	if mode == "nodrbg" {
		env = append(env, "VAULT_DISABLE_RSA_DRBG=true")
	}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "GODEBUG", childModeEnv, childResultEnv, "VAULT_DISABLE_RSA_DRBG":
			continue // VAULT_DISABLE_RSA_DRBG changes keysutil's RSA path
		}
		env = append(env, kv)
	}
	cmd.Env = env
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "child (mode %s, GODEBUG=%s):\n%s", mode, godebug, b)
	b, err = os.ReadFile(out)
	require.NoError(t, err)
	var results []keyTypeResult
	require.NoError(t, json.Unmarshal(b, &results))
	m := map[string]keyTypeResult{}
	for _, r := range results {
		m[r.Name] = r
	}
	return m
}

// keyFromReader says whether k's private key is made from the reader keysutil
// is given (install=false) or from crypto/rand.Reader replaced by the source
// (install=true), per keysutil's RotateInMemory and Go 1.26's crypto packages
// (customRand: cryptocustomrand=1 in effect, or Go 1.25, which has no such
// setting).
func keyFromReader(k keyType, install, customRand bool) bool {
	switch {
	case k.isECDSA():
		return install && customRand // keysutil passes crypto/rand.Reader; ecdsa ignores custom readers by default
	case k.isRSA():
		return customRand // rsa.GenerateKey ignores the HMAC_DRBG seeded from the reader by default
	}
	return true // ed25519.GenerateKey(r) and io.ReadFull read r whatever GODEBUG says
}

// column is one process of TestKeyTypes.
type column struct {
	title      string
	install    bool   // hsmrand.Install before the keys are made
	godebug    string // the child's GODEBUG; "" leaves it unset
	customRand bool   // cryptocustomrand=1 in effect while keys are made
}

// customRandInEffect reports whether ecdsa and rsa use a custom reader in
// c's process: with cryptocustomrand=1, or always before Go 1.26.
func (c column) customRandInEffect() bool { return c.customRand || !keygenNeedsGODEBUG }

// columns are the settings TestKeyTypes compares. hsmrand.Install sets
// cryptocustomrand=1 itself unless GODEBUG names the setting: the last
// column checks that it does.
var columns = []column{
	{"randReader only, cryptocustomrand=0", false, "cryptocustomrand=0", false},
	{"randReader only, =1", false, "cryptocustomrand=1", true},
	{"+ Install, =0", true, "cryptocustomrand=0", false},
	{"+ Install, =1", true, "cryptocustomrand=1", true},
	{"+ Install, GODEBUG unset", true, "", true},
}

// TestKeyTypes creates and rotates a keysutil policy of every transit key type
// with hsmrand as randReader, in one process per column, and checks which key
// types draw bytes from hsmrand and which keys are made of them.
func TestKeyTypes(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping in -short mode: makes RSA keys up to 4096 bits in seven processes")
	}
	if os.Getenv(childModeEnv) != "" {
		t.Skip("child process")
	}
	openSource(t) // skips or fails here, not in a child, when SoftHSM is missing
	table := map[string][]string{}
	for _, c := range columns {
		mode := map[bool]string{false: "reader", true: "install"}[c.install]
		got := runKeyTypesChild(t, mode, c.godebug)
		for _, k := range transitKeyTypes {
			require.Contains(t, got, k.name, "%s: no result for %s", c.title, k.name)
			r := got[k.name]
			checkKeyType(t, k, r, c)
			from := map[bool]string{false: "not from it", true: "from it"}[keyFromReader(k, c.install, c.customRandInEffect())]
			table[k.name] = append(table[k.name], fmt.Sprintf("%d B, key %s", r.Drawn, from))
		}
	}
	for _, godebug := range []string{"cryptocustomrand=0", "cryptocustomrand=1"} {
		checkNoDRBG(t, runKeyTypesChild(t, "nodrbg", godebug)["rsa-2048"], godebug)
	}
	titles := make([]string, len(columns))
	for i, c := range columns {
		titles[i] = c.title
	}
	t.Logf("| type | %s |", strings.Join(titles, " | "))
	for _, k := range transitKeyTypes {
		t.Logf("| %s | %s |", k.name, strings.Join(table[k.name], " | "))
	}
}

// checkKeyType asserts what one key type drew and whether its key is made of
// the reader's bytes.
func checkKeyType(t *testing.T, k keyType, r keyTypeResult, c column) {
	t.Helper()
	where := fmt.Sprintf("%s (%s)", k.name, c.title)
	want := uint64(2 * k.drawsPerVersion()) // create + rotate
	if c.install && k.isECDSA() && c.customRandInEffect() {
		// The key itself comes from the installed reader through
		// crypto/rand.Reader too; the amount varies with rejection sampling.
		assert.Greater(t, r.Drawn, want, "%s: bytes drawn, want more than the HMAC keys' (HMAC keys + ECDSA keys)", where)
	} else {
		assert.Equal(t, want, r.Drawn, "%s: bytes drawn", where)
	}
	switch {
	case r.Runs == 0 && k.isRSA() && k.kt != keysutil.KeyType_RSA2048:
		return // not measured: keygen is slow, and the path is rsa-2048's
	case r.Runs < minDeterminismRuns:
		t.Logf("%s: only %d RSA keys made within one second: whether the key is made from the reader is not measured here", where, r.Runs)
	case k.isRSA() && !rsaKeygenReproducible:
		t.Logf("%s: RSA keys from identical streams differ before Go 1.26; checkNoDRBG shows the primes are read from the reader", where)
	case keyFromReader(k, c.install, c.customRandInEffect()):
		assert.LessOrEqual(t, r.Distinct, maxReaderKeys, "%s: distinct keys from %d identical streams: key is not made from the reader", where, r.Runs)
	default:
		assert.Equal(t, r.Runs, r.Distinct, "%s: distinct keys from %d identical streams: key is made from the reader", where, r.Runs)
	}
}

// rsaPrimeDraws is the least a custom reader serves rsa.GenerateKey for one
// 2048-bit key: one candidate of 1024 bits for each of the two primes.
const rsaPrimeDraws = 2 * 1024 / 8

// checkNoDRBG asserts what rsa-2048 draws when VAULT_DISABLE_RSA_DRBG=true
// makes keysutil call rsa.GenerateKey(randReader, bits) directly: with
// cryptocustomrand=1 (or before Go 1.26) the primes are read from randReader,
// without it only the HMAC keys are. Unlike the HMAC_DRBG path this needs no
// clock.
func checkNoDRBG(t *testing.T, r keyTypeResult, godebug string) {
	t.Helper()
	where := "VAULT_DISABLE_RSA_DRBG=true, GODEBUG=" + godebug
	hmacOnly := uint64(2 * hmacSubkeySize)
	primes := godebug == "cryptocustomrand=1" || !keygenNeedsGODEBUG
	if !assert.Equal(t, "rsa-2048", r.Name, "%s: no rsa-2048 result", where) {
		return
	}
	var ok bool
	if primes {
		ok = assert.GreaterOrEqual(t, r.Drawn, hmacOnly+2*rsaPrimeDraws, "%s: rsa-2048 bytes drawn (primes read from the reader)", where)
	} else {
		ok = assert.Equal(t, hmacOnly, r.Drawn, "%s: rsa-2048 bytes drawn (HMAC keys only)", where)
	}
	if ok {
		t.Logf("%s: rsa-2048 drew %d bytes", where, r.Drawn)
	}
}
