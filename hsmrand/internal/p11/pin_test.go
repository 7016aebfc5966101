package p11

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadPINFileBounded: a PIN source is read with a bound of
// MaxPINSource bytes (a final newline aside), whatever it is; more is
// refused without reading on (no OOM on /dev/zero), and no error shows the
// bytes.
func TestReadPINFileBounded(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o600))
		return p
	}
	atMost := bytes.Repeat([]byte("q"), MaxPINSource)
	for _, tc := range []struct {
		name, path string
		want       []byte // nil: an error
	}{
		{"pin and newline", write("a", []byte("123456\n")), []byte("123456")},
		{"pin and CRLF", write("b", []byte("123456\r\n")), []byte("123456")},
		{"at the bound", write("c", append(bytes.Clone(atMost), '\n')), atMost},
		{"one byte over", write("d", append(bytes.Clone(atMost), 'q')), nil},
		{"huge", write("e", bytes.Repeat([]byte("z"), 1<<20)), nil},
		{"empty", write("f", []byte("\n")), nil},
		{"/dev/zero", "/dev/zero", nil},
		// A systemd credential is a file in $CREDENTIALS_DIRECTORY.
		{"credential", write("entropyd.pin", []byte("cred-pin")), []byte("cred-pin")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readPINFile(tc.path)
			if tc.want != nil {
				require.NoError(t, err)
				assert.Equal(t, tc.want, got)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrLoginFatal, "a source that cannot hold a PIN is a PIN error")
			assert.NotContains(t, err.Error(), "zzz")
			assert.NotContains(t, err.Error(), "qqq")
			assert.NotContains(t, err.Error(), "\x00")
		})
	}
}

// TestReadPINFileFIFO: a FIFO is read the same way: a writer that goes on
// writing is cut off at the bound.
func TestReadPINFileFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pin.fifo")
	require.NoError(t, syscall.Mkfifo(p, 0o600))
	for _, tc := range []struct {
		name string
		data []byte
		ok   bool
	}{
		{"a PIN", []byte("fifo-pin\n"), true},
		{"endless", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				w, err := os.OpenFile(p, os.O_WRONLY, 0)
				if err != nil {
					return
				}
				defer w.Close()
				if tc.data != nil {
					w.Write(tc.data)
					return
				}
				junk := bytes.Repeat([]byte("z"), 4096)
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := w.Write(junk); err != nil {
						return // the reader is gone: EPIPE
					}
				}
			}()
			got, err := readPINFile(p)
			close(stop)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				require.Fail(t, "the writer did not stop")
			}
			if tc.ok {
				require.NoError(t, err)
				assert.Equal(t, "fifo-pin", string(got))
				return
			}
			require.ErrorIs(t, err, ErrLoginFatal)
			assert.NotContains(t, err.Error(), "zzz")
		})
	}
}

// TestFakePINFlags: SoftHSM never reports CKF_USER_PIN_FINAL_TRY or
// CKF_USER_PIN_LOCKED, so a fake token does: no login is attempted, and
// the error says what to do. A token that reports CKF_USER_PIN_COUNT_LOW
// is logged in to and the flag is in Stats.
func TestFakePINFlags(t *testing.T) {
	for _, tc := range []struct {
		name   string
		flags  uint
		logins int
		want   []string // in the error; none: the open succeeds
	}{
		{"final try", pkcs11.CKF_USER_PIN_FINAL_TRY | pkcs11.CKF_USER_PIN_COUNT_LOW, 0, []string{"CKF_USER_PIN_FINAL_TRY", "not trying to log in", "reset the count"}},
		{"locked", pkcs11.CKF_USER_PIN_LOCKED, 0, []string{"CKF_USER_PIN_LOCKED", "security officer"}},
		{"count low", pkcs11.CKF_USER_PIN_COUNT_LOW, 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake("1234", map[uint]*fakeToken{7: {label: "kmes", serial: "S1", flags: fakeRNG | tc.flags}})
			tok, err := openFake(t, f, Config{TokenLabel: "kmes", PIN: []byte("1234")}, false)
			logins, _ := f.stats()
			assert.Equal(t, tc.logins, logins, "C_Login calls")
			if tc.want == nil {
				require.NoError(t, err)
				assert.True(t, tok.Stats().PINCountLow)
				tok.Close()
				return
			}
			require.ErrorIs(t, err, ErrLoginFatal)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), "1234")
			// A Pool (lenient) treats it as fatal too.
			_, err = openFake(t, f, Config{TokenLabel: "kmes", PIN: []byte("1234")}, true)
			assert.ErrorIs(t, err, ErrLoginFatal)
			logins, _ = f.stats()
			assert.Zero(t, logins)
		})
	}
	// Without a PIN the flags do not matter: no login is made.
	f := newFake("", map[uint]*fakeToken{7: {label: "kmes", flags: fakeRNG | pkcs11.CKF_USER_PIN_LOCKED}})
	tok, err := openFake(t, f, Config{TokenLabel: "kmes"}, false)
	require.NoError(t, err)
	assert.False(t, tok.Stats().PINCountLow)
	tok.Close()
}
