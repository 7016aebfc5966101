package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseConfigFile(t *testing.T) {
	in := "# comment\n\nfeed-interval = 30s\n  file = \" /a b \"  \nhwrng=true\n"
	got, err := parseConfigFile(strings.NewReader(in))
	require.NoError(t, err)
	want := []setting{{"feed-interval", "30s", 3}, {"file", " /a b ", 4}, {"hwrng", "true", 5}}
	assert.Equal(t, want, got)
	for _, bad := range []string{"novalue\n", "= x\n", "Feed = 1\n", "a b = 1\n", "x = \"y\n", strings.Repeat("x", maxConfigLine+1)} {
		_, err := parseConfigFile(strings.NewReader(bad))
		assert.Error(t, err, "parseConfigFile(%.20q) succeeded, want an error", bad)
	}
}

// env is a fake environment.
type env map[string]string

func (e env) get(k string) (string, bool) {
	v, ok := e[k]
	return v, ok
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// TestLoadConfigPrecedence checks flag > environment > file > default.
func TestLoadConfigPrecedence(t *testing.T) {
	file := writeFile(t, "entropyd.conf", "feed-interval = 1s\nfeed-bytes = 100\nfile-chunk = 77\nlog-format = json\n")
	e := env{"ENTROPYD_FEED_BYTES": "200", "ENTROPYD_FILE_CHUNK": "88", "ENTROPYD_CONFIG": file}
	c, _, err := loadConfig("run", []string{"--file-chunk=99"}, e.get, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, time.Second, c.feedInterval, "feed-interval")
	assert.Equal(t, 200, c.feedBytes, "feed-bytes")
	assert.Equal(t, 99, c.fileChunk, "file-chunk")
	assert.Equal(t, "json", c.logFormat, "log-format")
	assert.Equal(t, 64, c.hwrngChunk, "hwrng-chunk")
}

// TestLoadConfigErrors checks that a bad value is an error naming it.
func TestLoadConfigErrors(t *testing.T) {
	conf := writeFile(t, "bad.conf", "feed-bytes = 10\nbogus = 1\n")
	pin := writeFile(t, "pin.conf", "pin = 1234\n")
	for _, tc := range []struct {
		args []string
		env  env
		want string
	}{
		{[]string{"--feed-interval=soon"}, nil, "feed-interval"},
		{nil, env{"ENTROPYD_FEED_INTERVAL": "soon"}, "ENTROPYD_FEED_INTERVAL"},
		{nil, env{"ENTROPYD_FEED_INTERVAL": ""}, "ENTROPYD_FEED_INTERVAL"},
		{[]string{"--feed-bytes=0"}, nil, "invalid value for --feed-bytes: 0 is not in"},
		{nil, env{"ENTROPYD_FEED_BYTES": "0"}, "invalid value for ENTROPYD_FEED_BYTES: 0 is not in"},
		{[]string{"--credit-bits=9"}, nil, "--credit-bits"},
		{[]string{"--log-format=xml"}, nil, "--log-format"},
		{[]string{"--log-level=loud"}, nil, "--log-level"},
		{[]string{"--config", conf}, nil, "bad.conf:2: unknown option \"bogus\""},
		{[]string{"--config", pin}, nil, "PIN is read only from --pin-file or ENTROPYD_PIN"},
		{[]string{"--pin=1234"}, nil, "unknown option --pin"},
		{[]string{"--os=false"}, nil, "no source"},
		{[]string{"extra"}, nil, "takes no arguments"},
	} {
		_, _, err := loadConfig("run", tc.args, tc.env.get, io.Discard)
		assert.ErrorContains(t, err, tc.want, "loadConfig(%q, %v)", tc.args, tc.env)
		assert.ErrorIs(t, err, errUsage, "loadConfig(%q, %v)", tc.args, tc.env)
		if err != nil {
			assert.NotContains(t, err.Error(), "1234", "the error echoes the PIN")
		}
	}
}

func FuzzParseConfigFile(f *testing.F) {
	f.Add([]byte("# entropyd\nfeed-interval = 60s\nfile = \"/run/fifo\"\n"))
	f.Add([]byte("hwrng=true\r\nlisten = \n"))
	f.Add([]byte("= =\n\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		settings, err := parseConfigFile(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		for _, s := range settings {
			require.NotEmpty(t, s.name, "setting %+v", s)
			require.False(t, strings.ContainsAny(s.name, " =\"#\n"), "bad name %q", s.name)
			require.GreaterOrEqual(t, s.line, 1, "bad setting %+v", s)
			require.NotContains(t, s.value, "\n", "bad setting %+v", s)
		}
		// Re-encoding the settings parses back to the same settings.
		var b strings.Builder
		for _, s := range settings {
			b.WriteString(s.name + " = \"" + s.value + "\"\n")
		}
		again, err := parseConfigFile(strings.NewReader(b.String()))
		require.NoError(t, err, "re-parse")
		require.Len(t, again, len(settings), "re-parse")
		for i := range again {
			require.Equal(t, settings[i].name, again[i].name, "re-parse: setting %d", i)
			require.Equal(t, settings[i].value, again[i].value, "re-parse: setting %d", i)
		}
	})
}
