// Command prog imports hsmrand/autoinstall, for hsmrand's autoinstall test:
// it prints the type of crypto/rand.Reader, whether autoinstall.Reader is
// the installed Reader, whether an ECDSA key drew from it, and GODEBUG.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"os"

	"github.com/hsmentropy/hsmentropy/hsmrand"
	"github.com/hsmentropy/hsmentropy/hsmrand/autoinstall"
)

func main() {
	r := autoinstall.Reader()
	before := r.Stats().BytesServed
	if _, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Printf("reader=%T installed=%v key-from-reader=%v GODEBUG=%s\n",
		rand.Reader, r == hsmrand.Installed(), r.Stats().BytesServed > before, os.Getenv("GODEBUG"))
}
