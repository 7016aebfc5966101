// Package vault connects an HSM-backed random source, such as a
// *hsmrand.Reader (github.com/hsmentropy/hsmentropy/hsmrand), to HashiCorp
// Vault's entropy hook. It depends only on Vault's sdk and go-kms-wrapping
// modules (MPL-2.0), not on hsmrand: any [entropy.Sourcer] will do.
//
// # The hook
//
// In github.com/hashicorp/vault/sdk/framework, Backend.GetRandomReader
// returns entropy.NewReader(s) when the backend's [logical.SystemView] also
// implements [entropy.Sourcer] (GetRandom(bytes int) ([]byte, error), module
// github.com/hashicorp/go-kms-wrapping/entropy/v2), and crypto/rand.Reader
// otherwise. Vault Enterprise sets such a SystemView for mounts enabled with
// external entropy access; Vault Community Edition, and the gRPC SystemView
// an external plugin receives (sdk v0.25.1), never do. [WithEntropy] makes any
// SystemView a Sourcer, and [Factory] does it for every backend a
// [logical.Factory] builds, so that each GetRandomReader caller (transit key
// creation and rotation, for one) draws on the given source.
//
// # What a SystemView keeps
//
// The value [WithEntropy] returns answers every [logical.SystemView] method
// by calling the wrapped view. When the wrapped view also implements
// [logical.ExtendedSystemView], so does the result. Other optional interfaces
// (logical.ManagedKeySystemView, logical.ACMEBillingSystemView) are not
// carried over: a backend that type-asserts for them sees that the view lacks
// them. A GetRandom the view already had (Vault Enterprise's) is replaced. Vault's own core meets
// the same problem with one struct per combination (vault/acme_billing_system_view.go).
//
// # Failing closed
//
// The hook passes the source's errors on: Vault's entropy.Reader returns
// them to the backend, and transit's key creation fails, as it does with
// Vault Enterprise's own augmentation when the HSM is unreachable. A
// *hsmrand.Reader's GetRandom returns an error rather than output seeded
// from the OS alone under either of its failure policies, unless its
// Options.AllowOSOnlyGetRandom says otherwise; with Options.LiveGetRandom
// it draws its HSM bytes during each call, as Vault Enterprise does
// (hsmrand's package documentation compares the two).
//
// # What it does not do
//
// The hook only reaches code that asks the backend for its reader. Key
// generation that calls crypto/rand directly (keysutil's ECDSA keys), and
// crypto/ecdsa and crypto/rsa under Go 1.26, which ignore a custom reader
// unless GODEBUG=cryptocustomrand=1, do not draw on it; docs/vault.md has the
// table per transit key type.
//
// # Example
//
// A plugin's main serves its backend over an HSM-backed Reader:
//
//	r, err := hsmrand.Open(ctx, hsmrand.Config{URI: uri})
//	...
//	plugin.ServeMultiplex(&plugin.ServeOpts{
//		BackendFactoryFunc: vault.Factory(mybackend.Factory, r),
//	})
package vault
