package p11

import (
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"
)

// errAmbiguous: more than one token matches; a configuration error.
var errAmbiguous = errors.New("p11: more than one token matches")

// checkLibrary compares the library-* selection fields with C_GetInfo.
func (t *Token) checkLibrary() error {
	c := &t.cfg
	if c.LibraryManufacturer == "" && c.LibraryDescription == "" && c.LibraryVersion == "" {
		return nil
	}
	if err := t.lib.hold(t.lib.generation()); err != nil {
		return err
	}
	info, err := t.mod.GetInfo()
	t.lib.unhold()
	if err != nil {
		return wrapCall("C_GetInfo", err)
	}
	ok := (c.LibraryManufacturer == "" || c.LibraryManufacturer == info.ManufacturerID) &&
		(c.LibraryDescription == "" || c.LibraryDescription == info.LibraryDescription)
	if c.LibraryVersion != "" {
		major, minor, _ := parseVersion(c.LibraryVersion)
		_, _, hasMinor := strings.Cut(c.LibraryVersion, ".")
		ok = ok && info.LibraryVersion.Major == major && (!hasMinor || info.LibraryVersion.Minor == minor)
	}
	if !ok {
		return fmt.Errorf("%w: %s is %q %q version %d.%d, not the library the configuration asks for; check library-manufacturer, library-description, library-version",
			ErrModule, c.ModulePath, info.ManufacturerID, info.LibraryDescription, info.LibraryVersion.Major, info.LibraryVersion.Minor)
	}
	return nil
}

// find looks through the present tokens for the one the configuration
// selects in module generation gen and, when a PIN is configured, refuses
// a login that would lock the token or that it would refuse for the PIN's
// length (checkLogin). It is called at Open and whenever the token comes
// back from a fault, so a token that moved to another slot is found again.
// t.openMu must be held.
func (t *Token) find(gen uint64) (uint, pkcs11.TokenInfo, error) {
	c := &t.cfg
	if err := t.lib.hold(gen); err != nil {
		return 0, pkcs11.TokenInfo{}, err
	}
	defer t.lib.unhold()
	slots, err := t.mod.GetSlotList(true)
	if err != nil {
		return 0, pkcs11.TokenInfo{}, wrapCall("C_GetSlotList", err)
	}
	var (
		found   []uint
		info    pkcs11.TokenInfo
		present []string
	)
	for _, s := range slots {
		ti, err := t.mod.GetTokenInfo(s)
		if err != nil {
			continue // the token left between the two calls
		}
		present = append(present, fmt.Sprintf("slot %d: token %q serial %q", s, ti.Label, ti.SerialNumber))
		if !c.matchToken(s, &ti) || !t.matchSlot(s) {
			continue
		}
		found = append(found, s)
		info = ti
	}
	switch {
	case len(found) == 0:
		seen := "none"
		if len(present) > 0 {
			seen = strings.Join(present, "; ")
		}
		return 0, info, fmt.Errorf("%w: no present token in %s matches %s (present: %s); check the label, serial or slot",
			ErrTokenNotFound, c.ModulePath, c.selection(), seen)
	case len(found) > 1:
		return 0, info, fmt.Errorf("%w: %d tokens match %s (%s); add a label or serial to choose one",
			errAmbiguous, len(found), c.selection(), strings.Join(present, "; "))
	case info.Flags&pkcs11.CKF_RNG == 0:
		return 0, info, fmt.Errorf("%w: token %q serial %q does not set CKF_RNG in C_GetTokenInfo; choose a token with a random number generator",
			ErrNoRNG, info.Label, info.SerialNumber)
	}
	if t.login {
		if err := checkLogin(info.Label, pinFlagsOf(&info), len(t.pin)); err != nil {
			return 0, info, err
		}
	}
	return found[0], info, nil
}

func (c *Config) matchToken(slot uint, ti *pkcs11.TokenInfo) bool {
	return (c.SlotID == nil || *c.SlotID == slot) &&
		(c.TokenLabel == "" || c.TokenLabel == ti.Label) &&
		(c.Serial == "" || c.Serial == ti.SerialNumber) &&
		(c.Manufacturer == "" || c.Manufacturer == ti.ManufacturerID) &&
		(c.Model == "" || c.Model == ti.Model)
}

func (t *Token) matchSlot(slot uint) bool {
	c := &t.cfg
	if c.SlotDescription == "" && c.SlotManufacturer == "" {
		return true
	}
	si, err := t.mod.GetSlotInfo(slot)
	return err == nil &&
		(c.SlotDescription == "" || c.SlotDescription == si.SlotDescription) &&
		(c.SlotManufacturer == "" || c.SlotManufacturer == si.ManufacturerID)
}
