package p11

import "github.com/miekg/pkcs11"

// module is the part of a PKCS#11 library this package calls. *pkcs11.Ctx
// satisfies it; tests put a fake or a counting wrapper in its place to
// produce what SoftHSM cannot (a token without CKF_RNG, a removed device).
type module interface {
	GetInfo() (pkcs11.Info, error)
	GetSlotList(tokenPresent bool) ([]uint, error)
	GetSlotInfo(slotID uint) (pkcs11.SlotInfo, error)
	GetTokenInfo(slotID uint) (pkcs11.TokenInfo, error)
	OpenSession(slotID uint, flags uint) (pkcs11.SessionHandle, error)
	CloseSession(sh pkcs11.SessionHandle) error
	Login(sh pkcs11.SessionHandle, userType uint, pin string) error
	GenerateRandom(sh pkcs11.SessionHandle, length int) ([]byte, error)
	SeedRandom(sh pkcs11.SessionHandle, seed []byte) error
}
