package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// parseLevel parses --log-level.
func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("%q is not debug, info, warn or error", s)
	}
	return l, nil
}

// newLogger returns the structured logger --log-format and --log-level ask for.
func newLogger(w io.Writer, format, level string) *slog.Logger {
	l, _ := parseLevel(level) // validated
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
