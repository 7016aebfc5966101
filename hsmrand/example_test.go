package hsmrand_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"time"

	"github.com/hsmentropy/hsmentropy/hsmrand"
)

// ExampleOpen opens the PKCS#11 token that HSMRAND_URI names (or Vault's
// VAULT_HSM_* variables), for example
//
//	HSMRAND_URI='pkcs11:token=vault?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/hsmrand/pin'
//
// Under go test, TestMain points HSMRAND_URI at a SoftHSM token it creates.
func ExampleOpen() {
	cfg, err := hsmrand.ConfigFromEnv(os.Getenv)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := hsmrand.Open(ctx, cfg)
	if err != nil {
		fmt.Println(err) // names the PKCS#11 call, the CKR_ code and what to do
		return
	}
	defer r.Close()

	key := make([]byte, 32)
	if _, err := io.ReadFull(r, key); err != nil {
		fmt.Println(err)
		return
	}
	st := r.Stats()
	fmt.Println(st.State, st.Policy, st.HSMCalls > 0)
	// Output: healthy fail-closed true
}

// ExampleNew builds a Reader over another primary source: here a seeded
// ChaCha8 stream stands in for /dev/hwrng. The output still mixes in the
// operating system's randomness, so it differs on every run.
func ExampleNew() {
	primary := mrand.NewChaCha8([32]byte{42})
	r, err := hsmrand.New(primary, hsmrand.Options{})
	if err != nil {
		panic(err)
	}
	defer r.Close()

	key := make([]byte, 32)
	n, err := r.Read(key)
	fmt.Println(n, err, r.Stats().State)
	// Output: 32 <nil> healthy
}

// ExampleInstall makes the Reader crypto/rand.Reader. Without
// InstallOptions nothing else changes: since Go 1.26, ecdsa, rsa and ecdh
// keys stay on Go's own generator. KeyGeneration routes them through the
// Reader too. Install refuses under GODEBUG=fips140=only, so the example
// has no fixed output.
func ExampleInstall() {
	r, err := hsmrand.New(rand.Reader, hsmrand.Options{})
	if err != nil {
		panic(err)
	}
	defer r.Close()
	restore, err := hsmrand.Install(r, &hsmrand.InstallOptions{KeyGeneration: true})
	if err != nil {
		fmt.Println(err) // the reason, and what to do instead
		return
	}
	defer restore()

	before := r.Stats().BytesServed
	if _, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	fmt.Println("key drawn from the HSM reader:", r.Stats().BytesServed > before)
}

// ExampleReader_GetRandom uses the Reader as go-kms-wrapping's
// entropy.Sourcer: every call reseeds from fresh HSM bytes.
func ExampleReader_GetRandom() {
	r, err := hsmrand.New(rand.Reader, hsmrand.Options{})
	if err != nil {
		panic(err)
	}
	defer r.Close()

	var sourcer interface{ GetRandom(int) ([]byte, error) } = r
	used := r.Stats().HSMUsed
	b, err := sourcer.GetRandom(32)
	fmt.Println(len(b), err, r.Stats().HSMUsed-used)
	// Output: 32 <nil> 48
}
