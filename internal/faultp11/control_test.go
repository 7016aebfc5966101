package faultp11

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDirectives(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{Fail("C_GenerateRandom", 0x30, 3), "fail C_GenerateRandom 0x30 3"},
		{Fail(All, 0, -1), "fail * 0x0 -1"},
		{Delay("C_Login", 1500*time.Microsecond), "delay C_Login 1500"},
		{Delay("C_Login", time.Nanosecond), "delay C_Login 1"}, // rounded up
		{Delay("C_Login", -time.Second), "delay C_Login 0"},
		{Pareto("*", time.Millisecond, 1.5, time.Second), "pareto * 1000 1.5 1000000"},
		{Removed(1500 * time.Microsecond), "removed 2"},
		{Output(OutputShort, -1), "output short -1"},
		{Hang("C_OpenSession"), "hang C_OpenSession"},
		{Invalidate(), "invalidate"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestControlSet(t *testing.T) {
	dir := t.TempDir()
	c := New(dir)
	if _, err := os.Stat(c.Path()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("New wrote %s: %v", c.Path(), err)
	}
	var last time.Time
	for i, lines := range [][]string{{Hang(All)}, {Hang(All)}, nil, {Invalidate(), Removed(time.Second)}} {
		if err := c.Set(lines...); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(c.Path())
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.Join(append(lines, ""), "\n"); len(lines) > 0 && string(got) != want || len(lines) == 0 && len(got) != 0 {
			t.Errorf("version %d: %q, want the lines %q", i, got, lines)
		}
		fi, err := os.Stat(c.Path())
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().After(last) {
			t.Errorf("version %d: mtime %v not after %v", i, fi.ModTime(), last)
		}
		last = fi.ModTime()
	}
	if err := c.Clear(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != filepath.Base(c.Path()) {
		t.Errorf("directory holds %v; want only the control file", entries)
	}
}

func TestReadLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, []byte("C_Initialize 0x0\nC_GenerateRandom 0x30\nC_GenerateRandom 0x0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	calls, err := ReadLog(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []Call{{"C_Initialize", 0}, {"C_GenerateRandom", 0x30}, {"C_GenerateRandom", 0}}
	if !slices.Equal(calls, want) || Count(calls, "C_GenerateRandom") != 2 || Count(calls, "C_Login") != 0 {
		t.Errorf("ReadLog = %v, want %v", calls, want)
	}
	if err := os.WriteFile(path, []byte("C_Initialize 0x0\nC_Login 1234 secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadLog(path); err == nil || !strings.Contains(err.Error(), ":2:") {
		t.Errorf("malformed line 2: got %v", err)
	}
	if _, err := ReadLog(filepath.Join(t.TempDir(), "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing log: got %v", err)
	}
}
