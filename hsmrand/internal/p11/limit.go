package p11

import "github.com/miekg/pkcs11"

// The request limit: the largest C_GenerateRandom request made to a token.
// It starts at Config.MaxRequest and drops when the token refuses a request
// as too large; the policy is in the package documentation, under Faults
// and recovery.

// MinRequest is the smallest request limit a token may have, and the floor
// that a refused request is halved down to: every C_GenerateRandom call asks
// for at least minDraw (32) bytes, because the output checks need that many
// for their false-alarm odds (see check.go). Below it, per-call overhead
// would rule anyway. A token that refuses MinRequest bytes is a fault (see
// advice).
const MinRequest = minDraw

// refusesSize reports whether code is one that modules answer a request
// too large for them with.
func refusesSize(code uint) bool {
	switch code {
	case pkcs11.CKR_DATA_LEN_RANGE, pkcs11.CKR_ARGUMENTS_BAD, pkcs11.CKR_HOST_MEMORY, pkcs11.CKR_DEVICE_MEMORY:
		return true
	}
	return false
}

// shrink handles a C_GenerateRandom request of *want bytes that failed with
// err. When the token refused its size (refusesSize) and *want is above
// MinRequest, shrink halves *want (to the token's limit if that is lower
// already, and never below MinRequest), lowers the limit to it, counts the
// refusal and reports true: the caller asks again. Otherwise the error takes
// its usual course.
func (t *Token) shrink(want *int, err error) bool {
	code, ok := ckrOf(err)
	if !ok || !refusesSize(code) || *want <= MinRequest {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	*want = max(min(*want/2, t.maxRequestLocked()), MinRequest)
	t.st.maxRequest = min(t.maxRequestLocked(), *want)
	t.st.errors[CKRName(code)]++
	return true
}

// maxRequestLocked returns the token's request limit. t.mu must be held.
func (t *Token) maxRequestLocked() int {
	if t.st.maxRequest == 0 {
		return t.cfg.MaxRequest
	}
	return t.st.maxRequest
}
