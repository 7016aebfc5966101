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
// A PKCS#11 library is initialised once per process, and C_Finalize ends it
// for everyone. A process-wide registry therefore keeps one module per
// library path, shared by every Token on it, and never finalises it when
// the last Token closes: other code in the process (a second miekg/pkcs11
// handle that got CKR_CRYPTOKI_ALREADY_INITIALIZED, a Vault seal) may be
// using it, and would be left with CKR_CRYPTOKI_NOT_INITIALIZED. The module
// stays loaded and initialised until the process exits; a later Open
// reuses it. This registry is the package's only global state.
//
// # Network modules and re-initialisation
//
// A network HSM's library (a Futurex KMES's, or p11-kit's client) carries
// every call over the network. When the HSM restarts or its network goes,
// some such modules reconnect by themselves; others do not: p11-kit's
// client answers CKR_DEVICE_ERROR to every call, C_GetSlotList included,
// until the application calls C_Finalize and C_Initialize, and works again
// at once afterwards. So when a token that is down is looked for again
// and C_GetSlotList itself fails (a fault of the whole module, not of one
// token), the Token re-initialises the module: C_Finalize, then
// C_Initialize, then it looks for the token again and, with a PIN, logs in
// once. It does so only
//
//   - when no call of this package on the module has succeeded since the
//     token went down (a fault that other Tokens on the module do not see
//     is not the module's);
//   - when this package's C_Initialize started the module: one that
//     answered CKR_CRYPTOKI_ALREADY_INITIALIZED belongs to other code, and
//     the error says to restart the process or let its owner recover it;
//   - once per back-off of the token (Config.BackoffMin doubling to
//     BackoffMax), never in a loop, and never under a call: every call
//     holds the module for reading, and the re-initialisation waits up to
//     2 s for the calls in flight (a hung call postpones it to the next
//     try);
//   - unless Config.NoReinitialize forbids it.
//
// The module's generation moves on with every re-initialisation, and a
// session opened before it is never used or closed again: modules reuse
// handle numbers, and an old handle may name a session that another Token
// has opened since. The trade-off: C_Finalize also ends every other user's
// sessions on the module in this process (their next call fails, and after
// our C_Initialize they can open new sessions). A program that shares the
// module with other code that must not see that sets NoReinitialize, and
// the token then recovers only when the module does by itself.
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
//     selection attributes (it may have moved slot), re-initialising the
//     module first if the whole module fails (above), and the token comes
//     back by itself when it answers: within BackoffMax of its return.
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
//   - CKR_DATA_LEN_RANGE, CKR_ARGUMENTS_BAD, CKR_HOST_MEMORY or
//     CKR_DEVICE_MEMORY to a C_GenerateRandom request above [MinRequest]
//     (32) bytes: the module refuses a request that large (a network HSM's
//     transport may carry less than [MaxChunk]). The request is halved, down
//     to MinRequest, and asked again on the same session; the token keeps the
//     size that worked as its request limit (Stats.MaxRequest) and never asks
//     for more again. The refusals count in Stats.Errors, but the token stays
//     up and its back-off is untouched. The limit starts at Config.MaxRequest
//     (URI attribute x-max-request), MaxChunk by default; it never rises by
//     itself, because every try above it would be refused again, so a memory
//     error during a passing shortage lowers it until the token is reopened
//     or its module re-initialised (more calls, the same output); a
//     re-initialisation starts it again from Config.MaxRequest, as the new
//     connection (or server) may carry more. A token that refuses even MinRequest
//     bytes is a fault like the others: down, with an error that says so.
//
// Every error names the PKCS#11 function and return code by name and says
// what the user can do; see [Error]. [Pool] spreads requests over several
// tokens and fails over between them; a Pool has failed for good only when
// every token in it has.
//
// # Output checks
//
// Requests are split into calls of at most the token's request limit,
// [MaxChunk] (64 KiB) bytes or less (see above): SoftHSM returns zeros for
// requests over 2 GiB, and one huge call would hold a thread and a session
// for long. Each block is refused when short, all zero or a
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
// it to C memory freed without zeroing. C_GenerateRandom is called here
// through the module's function list, into a Go slice that is wiped after
// use (generate_unix.go): miekg/pkcs11's GenerateRandom copies from a C
// buffer that it frees unzeroed, and leaks when the call fails. A PIN from
// ConfigFromVault arrives as a string and cannot be wiped.
//
// # Not supported
//
// Tokens are selected, not enumerated for keys: the object, type and id
// attributes of a URI are ignored. pin-source accepts files only. Vendor
// path attributes ("x-...") are refused; of the vendor query attributes only
// x-max-request is understood, the others are ignored. module-name needs
// module-path.
package p11
