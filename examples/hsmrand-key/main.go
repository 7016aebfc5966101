// Command hsmrand-key opens a PKCS#11 token, reads a key from it, and makes
// it crypto/rand.Reader for the rest of the program.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hsmentropy/hsmentropy/hsmrand"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second) // bounds Open
	defer cancel()
	r, err := hsmrand.Open(ctx, hsmrand.Config{
		URI: "pkcs11:token=vault?module-path=/opt/fxpkcs11/libfxpkcs11.so&pin-source=file:/etc/hsmrand/pin",
	})
	if err != nil {
		return err // names the PKCS#11 call, the CKR_ code and what to do
	}
	defer r.Close()

	key := make([]byte, 32)
	if _, err := io.ReadFull(r, key); err != nil {
		return err
	}

	// crypto/rand.Reader and, with KeyGeneration, GODEBUG=cryptocustomrand=1,
	// so that ecdsa, rsa and ecdh keys come from it too (see InstallOptions).
	restore, err := hsmrand.Install(r, &hsmrand.InstallOptions{KeyGeneration: true})
	if err != nil {
		return err // e.g. under GODEBUG=fips140=only: Go allows only its own generator
	}
	defer restore()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	fmt.Printf("a %d-byte key and a %s key, from the HSM through hsmrand\n", len(key), priv.Curve.Params().Name)
	return nil
}
