// Command prog imports hsmrand/autoinstall, for hsmrand's autoinstall test:
// it prints the type of crypto/rand.Reader and GODEBUG, and generates an
// ECDSA key through it.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"os"

	_ "github.com/hsmentropy/hsmentropy/hsmrand/autoinstall"
)

func main() {
	if _, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Printf("reader=%T GODEBUG=%s\n", rand.Reader, os.Getenv("GODEBUG"))
}
