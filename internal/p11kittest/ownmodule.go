package p11kittest

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"os"
	"path/filepath"
)

// ownEnvPrefix starts the variable an own module reads; a random suffix
// makes it as long as AddressEnv, which it replaces in the library's bytes.
const ownEnvPrefix = "P11KITTEST_"

// writeOwnModule writes into dir a copy of the client module at client in
// which the name AddressEnv, which must occur exactly once, is replaced by a
// new name of the same length. It returns the copy's path and the new name.
func writeOwnModule(client, dir string) (path, envName string, err error) {
	lib, err := os.ReadFile(client)
	if err != nil {
		return "", "", fmt.Errorf("p11kittest: %w", err)
	}
	if n := bytes.Count(lib, []byte(AddressEnv)); n != 1 {
		return "", "", fmt.Errorf("p11kittest: %s names %s %d times, want once: cannot make a copy that reads another variable", client, AddressEnv, n)
	}
	var r [8]byte
	rand.Read(r[:])
	suffix := base32.StdEncoding.EncodeToString(r[:])[:len(AddressEnv)-len(ownEnvPrefix)]
	envName = ownEnvPrefix + suffix
	lib = bytes.Replace(lib, []byte(AddressEnv), []byte(envName), 1)
	path = filepath.Join(dir, "p11-kit-client-"+suffix+".so")
	if err := os.WriteFile(path, lib, 0o755); err != nil {
		return "", "", fmt.Errorf("p11kittest: %w", err)
	}
	return path, envName, nil
}
