package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hsmentropy/hsmentropy/health"
)

func TestRing(t *testing.T) {
	r := newRing(8, 0)
	if n := r.put([]byte("abcdef")); n != 6 {
		t.Fatalf("put took %d, want 6", n)
	}
	got := make([]byte, 4)
	if !r.take(got) || string(got) != "abcd" {
		t.Fatalf("take = %q", got)
	}
	if n := r.put([]byte("ghijklmn")); n != 6 { // wraps around
		t.Fatalf("put took %d, want 6 (ring of 8 holding 2)", n)
	}
	got = make([]byte, 8)
	if !r.take(got) || string(got) != "efghijkl" {
		t.Fatalf("take = %q, want efghijkl", got)
	}
	if r.take(make([]byte, 1)) {
		t.Fatal("take from an empty ring succeeded")
	}
	if !bytes.Equal(r.buf, make([]byte, 8)) {
		t.Errorf("taken bytes not zeroed: %q", r.buf)
	}
	r.put([]byte("xyz"))
	r.discard()
	if held, _, _ := r.state(); held != 0 || !bytes.Equal(r.buf, make([]byte, 8)) {
		t.Errorf("discard left %d bytes, buf %q", held, r.buf)
	}
}

func TestRingTakeWithin(t *testing.T) {
	r := newRing(64, 0)
	go func() {
		time.Sleep(20 * time.Millisecond)
		r.put(make([]byte, 48))
	}()
	alive := func() bool { return true }
	if !r.takeWithin(context.Background(), make([]byte, 48), 5*time.Second, alive) {
		t.Fatal("takeWithin did not get bytes put later")
	}
	start := time.Now()
	if r.takeWithin(context.Background(), make([]byte, 48), 50*time.Millisecond, alive) {
		t.Fatal("takeWithin got bytes from an empty ring")
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("takeWithin gave up after %v, before its timeout", d)
	}
}

// chanReader returns the byte blocks sent on it, then EOF when closed.
type chanReader struct{ ch chan []byte }

func (c chanReader) Read(p []byte) (int, error) {
	b, ok := <-c.ch
	if !ok {
		return 0, io.EOF
	}
	return copy(p, b), nil
}
func (c chanReader) Close() error { return nil }

func testSource(t *testing.T, open opener, restoreAfter time.Duration) (*source, chan event) {
	t.Helper()
	events := make(chan event, 64)
	s, err := newSource("test", open, 256, 0, restoreAfter, 0, slog.New(slog.DiscardHandler), events)
	if err != nil {
		t.Fatal(err)
	}
	return s, events
}

// waitEvent waits for the source to move to state.
func waitEvent(t *testing.T, events chan event, to sourceState) event {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.to == to {
				return ev
			}
		case <-timeout:
			t.Fatalf("no move to %v", to)
		}
	}
}

func randomBlock(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestSourceLifecycle walks a source through healthy, failed (stuck output),
// restored and recovered, with its tested bytes kept and discarded.
func TestSourceLifecycle(t *testing.T) {
	ch := make(chan []byte)
	s, events := testSource(t, func(context.Context) (io.ReadCloser, error) { return chanReader{ch}, nil }, 10*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.run(ctx)

	for range health.StartUpSamples / 256 {
		ch <- randomBlock(256)
	}
	if held, _, _ := s.ready.state(); held != 0 {
		t.Fatalf("%d bytes released during the start-up test", held)
	}
	ch <- randomBlock(256)
	if ev := waitEvent(t, events, stateHealthy); ev.recovered {
		t.Error("first healthy state marked as a recovery")
	}
	ch <- make([]byte, 256) // stuck: permanent RCT failure within the block
	waitEvent(t, events, stateFailed)
	if held, _, _ := s.ready.state(); held != 0 {
		t.Errorf("failed source still holds %d bytes", held)
	}
	if st := s.tester.Stats(); st.RCT.Permanent == 0 {
		t.Errorf("no permanent RCT failure counted: %+v", st.RCT)
	}
	waitEvent(t, events, stateDegraded) // restored after 10 ms
	for range health.StartUpSamples/256 + 1 {
		ch <- randomBlock(256)
	}
	if ev := waitEvent(t, events, stateHealthy); !ev.recovered {
		t.Error("healthy again after a failure not marked as a recovery")
	}
}

// TestSourceReconnects: a read error moves the source to reconnecting and it
// is reopened.
func TestSourceReconnects(t *testing.T) {
	opens := make(chan chan []byte, 4)
	s, events := testSource(t, func(context.Context) (io.ReadCloser, error) {
		ch := make(chan []byte)
		opens <- ch
		return chanReader{ch}, nil
	}, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.run(ctx)
	first := <-opens
	close(first) // EOF
	waitEvent(t, events, stateReconnecting)
	second := <-opens
	for range health.StartUpSamples/256 + 1 {
		second <- randomBlock(256)
	}
	if ev := waitEvent(t, events, stateHealthy); ev.recovered {
		t.Error("a source never healthy before is not recovering")
	}
	if got := s.c.snapshot().Errors["EOF"]; got != 1 {
		t.Errorf("EOF errors = %d, want 1", got)
	}
}

// TestFileSourceUsedOnce: a regular file is read once, across reopenings.
func TestFileSourceUsedOnce(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &fileSource{path: p}
	r, err := f.open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if n, _ := r.Read(buf); string(buf[:n]) != "0123" {
		t.Fatalf("read %q", buf[:n])
	}
	r.Close()
	if r, err = f.open(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if string(got) != "456789" || !errors.Is(err, errExhausted) {
		t.Errorf("reopened file gave %q, %v; want 456789 and errExhausted", got, err)
	}
	r.Close()
	if _, err := f.open(context.Background()); !errors.Is(err, errExhausted) {
		t.Errorf("opening a used-up file: %v, want errExhausted", err)
	}
}

// TestOSSource: the OS source releases bytes only after its start-up test,
// and a stuck OS fails.
func TestOSSource(t *testing.T) {
	o, err := newOSSource(0, slog.New(slog.DiscardHandler), make(chan event, 8))
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 48)
	if _, err := o.Read(p); err != nil {
		t.Fatal(err)
	}
	if st := o.src.tester.Stats(); st.Samples < health.StartUpSamples+48 || o.src.getState() != stateHealthy {
		t.Errorf("after one read: %d samples tested, state %v; want ≥ %d and healthy", st.Samples, o.src.getState(), health.StartUpSamples+48)
	}
	o.read = func(b []byte) (int, error) { clear(b); return len(b), nil }
	if _, err := o.Read(p); !errors.Is(err, health.ErrPermanent) {
		t.Fatalf("stuck OS read: %v, want a permanent health failure", err)
	}
	if !bytes.Equal(p, make([]byte, 48)) {
		t.Error("a failed read left bytes in p")
	}
	if _, err := o.Read(p); err == nil || o.src.getState() != stateFailed {
		t.Errorf("read after failure: %v, state %v; want an error, failed", err, o.src.getState())
	}
}
