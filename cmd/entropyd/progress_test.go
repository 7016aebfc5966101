package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestProgressBar(t *testing.T) {
	for _, c := range []struct {
		done, total int
		want        string
	}{
		{0, 12, "[........................]"},
		{6, 12, "[############............]"},
		{12, 12, "[########################]"},
		{13, 12, "[########################]"},
		{0, 0, "[........................]"},
	} {
		if got := bar(c.done, c.total); got != c.want {
			t.Errorf("bar(%d, %d) = %q, want %q", c.done, c.total, got, c.want)
		}
	}
	// On a terminal the line is rewritten in place, then cleared; elsewhere
	// nothing is written.
	var b bytes.Buffer
	p := &progress{w: &b}
	p.estimators(3, 12, "Markov")
	p.done()
	if out := b.String(); !strings.HasPrefix(out, "\r\033[K[######") || !strings.Contains(out, "3 of 12 estimators done (Markov)") || !strings.HasSuffix(out, "\r\033[K") {
		t.Errorf("terminal output %q", out)
	}
	b.Reset()
	q := newProgress(&b)
	q.shuffles(5, 10)
	q.done()
	if b.Len() != 0 {
		t.Errorf("not a terminal, yet progress wrote %q", b.String())
	}
}
