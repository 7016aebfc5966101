package softhsmtest

import (
	"os"
	"testing"
)

func TestNew(t *testing.T) {
	tok := New(t, WithLabel("probe"), WithPIN("1234"))
	if tok.Label != "probe" || tok.PIN != "1234" || tok.SOPIN == "" || len(tok.Serial) != 16 {
		t.Errorf("token %+v: want label probe, PIN 1234, a random SO PIN, a 16-character serial", tok)
	}
	if os.Getenv(ConfEnv) != tok.Conf {
		t.Errorf("%s = %q, want %q", ConfEnv, os.Getenv(ConfEnv), tok.Conf)
	}
	if _, err := os.Stat(tok.Module); err != nil {
		t.Error(err)
	}
}
