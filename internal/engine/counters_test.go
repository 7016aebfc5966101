package engine

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/hsmentropy/hsmentropy/hsmrand"
	"github.com/stretchr/testify/assert"
)

func TestErrorCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{syscall.EIO, "EIO"},
		{&os.PathError{Op: "open", Path: "/x", Err: syscall.ENOENT}, "ENOENT"},
		{errors.New("x"), "other"},
		{codeErr("E1"), "E1"},
		// A PKCS#11 error is read by its type, wrapped as deep as it is.
		{fmt.Errorf("hsmrand: %w", fmt.Errorf("token 1 of 2: %w", &hsmrand.PKCS11Error{Func: "C_GenerateRandom", Code: 0x30})), "CKR_DEVICE_ERROR"},
		// Its text is not parsed: a message naming a code is not that code.
		{errors.New("p11: C_GenerateRandom: CKR_DEVICE_ERROR: check the HSM"), "other"},
	} {
		assert.Equal(t, tc.want, errorCode(tc.err), "errorCode(%v)", tc.err)
	}
}

type codeErr string

func (c codeErr) Error() string { return string(c) }
func (c codeErr) Code() string  { return string(c) }
