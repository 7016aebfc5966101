package p11kittest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/require"
)

// recoverTimeout bounds how long a client may take to work again once the
// server is back: generous, for a loaded two-core machine.
const recoverTimeout = 60 * time.Second

// client is a miekg/pkcs11 client of one token through a p11-kit client
// module.
type client struct {
	ctx    *pkcs11.Ctx
	serial string
	pin    string
}

// load loads module (which reads its address from the environment now) and
// initialises it. The instance is finalised and unloaded when the test ends.
func load(t *testing.T, module string, srv *Server) *client {
	t.Helper()
	ctx := pkcs11.New(module)
	require.NotNil(t, ctx, "loading %s", module)
	t.Cleanup(func() {
		ctx.Finalize()
		ctx.Destroy()
	})
	require.NoError(t, ctx.Initialize())
	return &client{ctx: ctx, serial: srv.Token.Serial, pin: srv.Token.PIN}
}

// serve starts a server, points this process at it and returns a client
// that has drawn from it once.
func serve(t *testing.T, opts Options) (*Server, *client) {
	t.Helper()
	srv := Start(t, opts)
	srv.Setenv(t)
	c := load(t, srv.ClientModule, srv)
	_, err := c.random(32)
	require.NoError(t, err)
	return srv, c
}

// slot finds the client's token by serial number.
func (c *client) slot() (uint, error) {
	slots, err := c.ctx.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("C_GetSlotList: %w", err)
	}
	for _, s := range slots {
		ti, err := c.ctx.GetTokenInfo(s)
		if err != nil {
			return 0, fmt.Errorf("C_GetTokenInfo: %w", err)
		}
		if strings.TrimSpace(ti.SerialNumber) == c.serial {
			return s, nil
		}
	}
	return 0, fmt.Errorf("token %s not among slots %v", c.serial, slots)
}

// open opens a session on the token and logs in, unless pin is empty.
func (c *client) open() (pkcs11.SessionHandle, error) {
	s, err := c.slot()
	if err != nil {
		return 0, err
	}
	sh, err := c.ctx.OpenSession(s, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		return 0, fmt.Errorf("C_OpenSession: %w", err)
	}
	if c.pin == "" {
		return sh, nil
	}
	if err := c.ctx.Login(sh, pkcs11.CKU_USER, c.pin); err != nil {
		c.ctx.CloseSession(sh)
		return 0, fmt.Errorf("C_Login: %w", err)
	}
	return sh, nil
}

// random draws n bytes in a new session, then closes it.
func (c *client) random(n int) ([]byte, error) {
	sh, err := c.open()
	if err != nil {
		return nil, err
	}
	defer c.ctx.CloseSession(sh)
	b, err := c.ctx.GenerateRandom(sh, n)
	if err != nil {
		return nil, fmt.Errorf("C_GenerateRandom: %w", err)
	}
	return b, nil
}

// reinitialize finalises the module instance and initialises it again,
// repeating C_Initialize until a draw works; it returns how long recovery
// took and C_Finalize's result.
func (c *client) reinitialize(t *testing.T) (took time.Duration, finalize error) {
	t.Helper()
	start := time.Now()
	finalize = c.ctx.Finalize()
	var last error
	for time.Since(start) < recoverTimeout {
		if last = c.ctx.Initialize(); last == nil {
			if _, last = c.random(32); last == nil {
				return time.Since(start), finalize
			}
			c.ctx.Finalize()
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.Failf(t, "no recovery", "no draw within %v of C_Finalize + C_Initialize: %v", recoverTimeout, last)
	return 0, nil
}

// ckr returns the PKCS#11 return code in err, or fails the test.
func ckr(t *testing.T, err error) pkcs11.Error {
	t.Helper()
	var e pkcs11.Error
	require.True(t, errors.As(err, &e), "want a PKCS#11 error, got %v", err)
	return e
}
