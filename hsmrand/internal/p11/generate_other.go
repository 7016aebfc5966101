//go:build !unix

package p11

import "github.com/miekg/pkcs11"

// withDirectRNG returns ctx: outside Unix, miekg/pkcs11's GenerateRandom is
// used, with its leak of the request on a failed call (see generate_unix.go).
func withDirectRNG(ctx *pkcs11.Ctx, _ string) initer { return ctx }
