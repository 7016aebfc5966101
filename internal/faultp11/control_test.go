package faultp11

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
		assert.Equal(t, tt.want, tt.got)
	}
}

func TestControlSet(t *testing.T) {
	dir := t.TempDir()
	c := New(dir)
	_, err := os.Stat(c.Path())
	require.ErrorIs(t, err, fs.ErrNotExist, "New wrote %s", c.Path())
	var last time.Time
	for i, lines := range [][]string{{Hang(All)}, {Hang(All)}, nil, {Invalidate(), Removed(time.Second)}} {
		require.NoError(t, c.Set(lines...))
		got, err := os.ReadFile(c.Path())
		require.NoError(t, err)
		assert.Equal(t, strings.Join(append(lines, ""), "\n"), string(got), "version %d: want the lines %q", i, lines)
		fi, err := os.Stat(c.Path())
		require.NoError(t, err)
		assert.Greater(t, fi.ModTime(), last, "version %d: mtime not after the last version's", i)
		last = fi.ModTime()
	}
	require.NoError(t, c.Clear())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "want only the control file")
	assert.Equal(t, filepath.Base(c.Path()), entries[0].Name(), "want only the control file")
}

func TestReadLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	require.NoError(t, os.WriteFile(path, []byte("C_Initialize 0x0\nC_GenerateRandom 0x30\nC_GenerateRandom 0x0\n"), 0o600))
	calls, err := ReadLog(path)
	require.NoError(t, err)
	want := []Call{{"C_Initialize", 0}, {"C_GenerateRandom", 0x30}, {"C_GenerateRandom", 0}}
	assert.Equal(t, want, calls, "ReadLog")
	assert.Equal(t, 2, Count(calls, "C_GenerateRandom"), "Count(C_GenerateRandom)")
	assert.Zero(t, Count(calls, "C_Login"), "Count(C_Login)")
	require.NoError(t, os.WriteFile(path, []byte("C_Initialize 0x0\nC_Login 1234 secret\n"), 0o600))
	_, err = ReadLog(path)
	assert.ErrorContains(t, err, ":2:", "malformed line 2")
	_, err = ReadLog(filepath.Join(t.TempDir(), "none"))
	assert.ErrorIs(t, err, fs.ErrNotExist, "missing log")
}
