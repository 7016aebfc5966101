package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress shows how far a long assessment is, on a terminal only: one line
// rewritten in place, cleared when done. Updates come at most every
// progressInterval; the zero value (not a terminal) shows nothing.
type progress struct {
	mu    sync.Mutex
	w     io.Writer // nil: not a terminal
	last  time.Time
	shown bool
	start time.Time
}

const progressInterval = 200 * time.Millisecond

// newProgress returns a progress that writes to w if w is a terminal.
func newProgress(w io.Writer) *progress {
	p := &progress{start: time.Now()}
	if isTerminal(w) {
		p.w = w
	}
	return p
}

// estimators is a NonIIDOptions.Progress callback.
func (p *progress) estimators(done, total int, finished string) {
	p.show(fmt.Sprintf("%s %d of %d estimators done (%s)", bar(done, total), done, total, finished))
}

// shuffles is an IIDOptions.Progress callback.
func (p *progress) shuffles(done, total int) {
	p.show(fmt.Sprintf("%s %d of %d permutations", bar(done, total), done, total))
}

// barWidth is the number of cells of the progress bar.
const barWidth = 24

// bar draws done/total as [#####...........].
func bar(done, total int) string {
	n := 0
	if total > 0 {
		n = min(barWidth, max(0, done*barWidth/total))
	}
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", barWidth-n) + "]"
}

func (p *progress) show(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w == nil || time.Since(p.last) < progressInterval {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, "\r\033[K%s, %.0fs", msg, time.Since(p.start).Seconds())
	p.shown = true
}

// done clears the line; it may be called more than once.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}
