package faultp11

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// All, as a function name, makes a directive apply to every wrapped function.
const All = "*"

// The modes of [Output].
const (
	OutputZero   = "zero"   // every byte zero
	OutputRepeat = "repeat" // the bytes of the run's first call, again
	OutputShort  = "short"  // the second half of the buffer zero
)

// Control writes the control file that the module reads. Its methods may be
// called from several goroutines.
type Control struct {
	path string

	mu    sync.Mutex
	mtime time.Time // of the last version written
}

// New returns a Control for the file faultp11.conf in dir. It writes
// nothing: until [Control.Set] the file is missing, which means no faults.
// Point FAULTP11_CONTROL at [Control.Path].
func New(dir string) *Control {
	return &Control{path: filepath.Join(dir, "faultp11.conf")}
}

// Path returns the path of the control file.
func (c *Control) Path() string { return c.path }

// Set replaces the control file with lines, atomically: it writes a
// temporary file in the same directory and renames it over the old one. Each
// version gets an mtime later than the one before, so that the module, which
// compares inode, size and mtime, sees every change even when an inode number
// is reused. The module applies the new version at its next wrapped call, with
// fresh counters.
func (c *Control) Set(lines ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	f, err := os.CreateTemp(filepath.Dir(c.path), ".faultp11-*.conf")
	if err != nil {
		return fmt.Errorf("faultp11: %w", err)
	}
	_, err = f.WriteString(b.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	mtime := time.Now()
	if !mtime.After(c.mtime) {
		mtime = c.mtime.Add(time.Microsecond)
	}
	if err == nil {
		err = os.Chtimes(f.Name(), mtime, mtime)
	}
	if err == nil {
		err = os.Rename(f.Name(), c.path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("faultp11: writing the control file: %w", err)
	}
	c.mtime = mtime
	return nil
}

// Clear replaces the control file with an empty one: no faults. A call
// hanging on a [Hang] directive goes on.
func (c *Control) Clear() error { return c.Set() }

// Fail returns the directive that answers ckr to the next count calls to fn
// (-1: every call) without calling the real module.
func Fail(fn string, ckr uint, count int) string {
	return fmt.Sprintf("fail %s %#x %d", fn, ckr, count)
}

// Delay returns the directive that sleeps d before every call to fn.
func Delay(fn string, d time.Duration) string {
	return fmt.Sprintf("delay %s %d", fn, micros(d))
}

// Pareto returns the directive that sleeps, before every call to fn, a
// Pareto-distributed time with scale xm and shape alpha, at most limit:
// P[delay > t] = (xm/t)^alpha for xm <= t < limit. With alpha <= 2 the
// variance is infinite, with alpha <= 1 the mean too (but for the cap).
func Pareto(fn string, xm time.Duration, alpha float64, limit time.Duration) string {
	return fmt.Sprintf("pareto %s %d %s %d", fn, micros(xm), strconv.FormatFloat(alpha, 'g', -1, 64), micros(limit))
}

// Removed returns the directive that takes the token away for d from the
// moment the module loads it, closing every session; see the package doc.
func Removed(d time.Duration) string {
	return fmt.Sprintf("removed %d", (max(d, 0)+time.Millisecond-1)/time.Millisecond)
}

// Output returns the directive that reshapes the output of the next count
// C_GenerateRandom calls that reach the real module (-1: all) per mode:
// [OutputZero], [OutputRepeat] or [OutputShort].
func Output(mode string, count int) string {
	return fmt.Sprintf("output %s %d", mode, count)
}

// Sessions returns the directive that limits the token to n sessions open
// at once, over every process whose module reads the same control file: a
// C_OpenSession beyond them answers CKR_SESSION_COUNT.
func Sessions(n int) string { return fmt.Sprintf("sessions %d", n) }

// Hang returns the directive that blocks every call to fn until the control
// file no longer holds it.
func Hang(fn string) string { return "hang " + fn }

// Invalidate returns the directive that, once, closes every session on the
// slot of the next call's session before forwarding the call.
func Invalidate() string { return "invalidate" }

// MaxRandom returns the directive that answers ckr to every C_GenerateRandom
// request of more than n bytes, without calling the real module; ckr 0 means
// CKR_DATA_LEN_RANGE.
func MaxRandom(n int, ckr uint) string {
	if ckr == 0 {
		return fmt.Sprintf("maxrandom %d", n)
	}
	return fmt.Sprintf("maxrandom %d %#x", n, ckr)
}

// micros rounds d up to whole microseconds, and negative d to 0.
func micros(d time.Duration) int64 {
	return int64((max(d, 0) + time.Microsecond - 1) / time.Microsecond)
}
