package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
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
		assert.Equal(t, c.want, bar(c.done, c.total), "bar(%d, %d)", c.done, c.total)
	}
	// On a terminal the line is rewritten in place, then cleared; elsewhere
	// nothing is written.
	var b bytes.Buffer
	p := &progress{w: &b}
	p.estimators(3, 12, "Markov")
	p.done()
	out := b.String()
	assert.True(t, strings.HasPrefix(out, "\r\033[K[######"), "terminal output %q does not begin by clearing the line and drawing the bar", out)
	assert.Contains(t, out, "3 of 12 estimators done (Markov)")
	assert.True(t, strings.HasSuffix(out, "\r\033[K"), "terminal output %q does not end by clearing the line", out)
	b.Reset()
	q := newProgress(&b)
	q.shuffles(5, 10)
	q.done()
	assert.Empty(t, b.String(), "not a terminal, yet progress wrote")
}
