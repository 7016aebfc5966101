// Package p11 draws random bytes from PKCS#11 tokens (C_GenerateRandom).
// It is the only importer of github.com/miekg/pkcs11 in this module; hsmrand
// builds its Reader on [Token] and [Pool].
//
// # Selecting a token
//
// A token is named by an RFC 7512 URI ([ParseURI], then [URI.Config]):
//
//	pkcs11:token=vault;serial=a359c86d25489d00?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/hsm.pin
//
// by a [Config] filled in directly, or by the settings of Vault's PKCS#11
// seal ([ConfigFromVault], [ConfigFromVaultEnv]: lib, slot, token_label, pin
// and VAULT_HSM_LIB, VAULT_HSM_SLOT, VAULT_HSM_TOKEN_LABEL, VAULT_HSM_PIN).
// Every selection attribute given must match, and exactly one present token
// may match. The token must advertise an RNG (CKF_RNG).
//
// Login is optional: with a PIN (pin-value, pin-source, pin, VAULT_HSM_PIN)
// the token logs in as the normal user; without one it calls
// C_GenerateRandom on a session that is not logged in, which many tokens
// (SoftHSM among them) allow.
//
// # Modules and the process
//
// A PKCS#11 library is initialised once per process and C_Finalize ends it for
// everyone. A process-wide registry therefore keeps one *pkcs11.Ctx per
// library path, counts the Tokens using it, and calls C_Finalize only when the
// last of them closes and only if its own C_Initialize started the library.
// When C_Initialize answers CKR_CRYPTOKI_ALREADY_INITIALIZED, other code in
// the process owns the library and it is never finalised here. This registry
// is the package's only global state.
//
// # Sessions and concurrency
//
// PKCS#11 lets many threads share a library but not a session. A [Token]
// keeps a small pool of read-only sessions; each call takes one for its own
// use and gives it back. At most Config.MaxSessions sessions are in use at
// once, which also bounds the cgo calls in flight (each blocks an OS thread
// for as long as the HSM takes). Waiting for a session honours the context.
// C_OpenSession, C_Login and the search for the token are serialised, so a
// PIN is presented by one goroutine at a time; no lock is held across
// C_GenerateRandom.
//
// # Faults and recovery
//
//   - CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED (another handle called
//     C_CloseAllSessions, say): the session is dropped, a new one is opened
//     (logging in again if a PIN is configured) and the call is retried once.
//   - CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT, CKR_DEVICE_ERROR and other
//     failures: the token is down. Calls fail at once with [ErrTokenDown]
//     until a back-off ends (doubling from Config.BackoffMin to BackoffMax,
//     with jitter); the next call then looks for the token again by its
//     selection attributes (it may have moved slot) and the token comes back
//     by itself when it answers.
//   - CKR_PIN_INCORRECT, CKR_PIN_LOCKED and the other login refusals: the
//     token stops at once ([ErrLoginFatal]) and C_Login is never called again
//     with that PIN, since retries lock tokens. Before every login the
//     token's C_GetTokenInfo flags are read: a token that reports
//     CKF_USER_PIN_LOCKED or CKF_USER_PIN_FINAL_TRY is not tried (one more
//     wrong PIN would lock it; nothing here can tell a right PIN from a
//     wrong one without trying), and neither is a PIN longer than its
//     ulMaxPinLen or shorter than its ulMinPinLen; the error says what to
//     do. CKF_USER_PIN_COUNT_LOW (a login failed since the last good one)
//     does not stop the login and is reported in [Stats].PINCountLow.
//   - A PIN source (pin-source, a file, a FIFO, a systemd credential) is
//     read with a bound of [MaxPINSource] (256) bytes besides a final
//     newline: a longer source, or an empty one, is refused as a login
//     error without reading on, and the error shows none of its bytes.
//
// Every error names the PKCS#11 function and return code by name and says
// what the user can do; see [Error]. [Pool] spreads requests over several
// tokens and fails over between them.
//
// # Output checks
//
// Requests are split into calls of at most [MaxChunk] (64 KiB) bytes: SoftHSM
// returns zeros for requests over 2 GiB, and one huge call would hold a thread
// and a session for long. Each block is refused when short, all zero or a
// repeat of the previous block; the rules and their false-alarm odds are in
// check.go. These checks catch a broken token or library; they do not make
// its output an SP 800-90B entropy source, and hsmrand runs the continuous
// health tests on top.
//
// # Secrets
//
// The PIN is held in a []byte, wiped on Close, and never appears in errors,
// String or fmt output of [Config] and [URI]. Limits of miekg/pkcs11 that
// this package cannot remove: C_Login takes the PIN as a Go string and copies
// it to C memory freed without zeroing; C_GenerateRandom returns a fresh Go
// slice copied from a C buffer that is freed without zeroing (the Go copy is
// wiped here after use). A PIN from ConfigFromVault arrives as a string and
// cannot be wiped.
//
// # Not supported
//
// Tokens are selected, not enumerated for keys: the object, type and id
// attributes of a URI are ignored. pin-source accepts files only. Vendor
// path attributes ("x-...") are refused. module-name needs module-path.
package p11
