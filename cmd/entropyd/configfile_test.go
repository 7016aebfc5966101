package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseConfigFile(t *testing.T) {
	in := "# comment\n\nfeed-interval = 30s\n  file = \" /a b \"  \nhwrng=true\n"
	got, err := parseConfigFile(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []setting{{"feed-interval", "30s", 3}, {"file", " /a b ", 4}, {"hwrng", "true", 5}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("setting %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"novalue\n", "= x\n", "Feed = 1\n", "a b = 1\n", "x = \"y\n", strings.Repeat("x", maxConfigLine+1)} {
		if _, err := parseConfigFile(strings.NewReader(bad)); err == nil {
			t.Errorf("parseConfigFile(%.20q) succeeded, want an error", bad)
		}
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
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadConfigPrecedence checks flag > environment > file > default.
func TestLoadConfigPrecedence(t *testing.T) {
	file := writeFile(t, "entropyd.conf", "feed-interval = 1s\nfeed-bytes = 100\nfile-chunk = 77\nlog-format = json\n")
	e := env{"ENTROPYD_FEED_BYTES": "200", "ENTROPYD_FILE_CHUNK": "88", "ENTROPYD_CONFIG": file}
	c, _, err := loadConfig("run", []string{"--file-chunk=99"}, e.get, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.feedInterval != time.Second || c.feedBytes != 200 || c.fileChunk != 99 || c.logFormat != "json" || c.hwrngChunk != 64 {
		t.Errorf("got interval %v bytes %d chunk %d format %s hwrng-chunk %d; want 1s 200 99 json 64",
			c.feedInterval, c.feedBytes, c.fileChunk, c.logFormat, c.hwrngChunk)
	}
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
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, errUsage) {
			t.Errorf("loadConfig(%q, %v) = %v, want a usage error containing %q", tc.args, tc.env, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "1234") {
			t.Errorf("error %q echoes the PIN", err)
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
			if s.name == "" || strings.ContainsAny(s.name, " =\"#\n") {
				t.Fatalf("bad name %q", s.name)
			}
			if s.line < 1 || strings.ContainsRune(s.value, '\n') {
				t.Fatalf("bad setting %+v", s)
			}
		}
		// Re-encoding the settings parses back to the same settings.
		var b strings.Builder
		for _, s := range settings {
			b.WriteString(s.name + " = \"" + s.value + "\"\n")
		}
		again, err := parseConfigFile(strings.NewReader(b.String()))
		if err != nil || len(again) != len(settings) {
			t.Fatalf("re-parse: %v, %d settings, want %d", err, len(again), len(settings))
		}
		for i := range again {
			if again[i].name != settings[i].name || again[i].value != settings[i].value {
				t.Fatalf("re-parse: %+v, want %+v", again[i], settings[i])
			}
		}
	})
}
