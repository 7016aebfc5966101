package softhsmtest

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNew(t *testing.T) {
	tok := New(t, WithLabel("probe"), WithPIN("1234"))
	assert.Equal(t, "probe", tok.Label)
	assert.Equal(t, "1234", tok.PIN)
	assert.NotEmpty(t, tok.SOPIN, "want a random SO PIN")
	assert.Len(t, tok.Serial, 16, "want a 16-character serial")
	assert.Equal(t, tok.Conf, os.Getenv(ConfEnv), ConfEnv)
	assert.FileExists(t, tok.Module)
}
