package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// startHTTP serves /metrics, /healthz and /readyz on addr ("" serves
// nothing) and returns the function that stops the server.
func (d *daemon) startHTTP(addr string) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--listen: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(d.snapshot))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slogAdapter{d}}))
	mux.HandleFunc("GET /healthz", d.healthz)
	mux.HandleFunc("GET /readyz", d.readyz)
	if d.cfg.debugPprof {
		servePprof(mux)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	d.log.Info("serving metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("HTTP server failed", "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
	}, nil
}

// healthz answers 200 unless every source has failed: it is about the
// process (alive, and with something left to feed from), not about the
// HSM; /readyz says whether the HSM is delivering.
func (d *daemon) healthz(w http.ResponseWriter, _ *http.Request) {
	if d.set.allFailed() {
		http.Error(w, "every source has failed", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// readyz answers 200 when readiness does, else 503 with the reason.
func (d *daemon) readyz(w http.ResponseWriter, _ *http.Request) {
	if ok, why := d.readiness(); !ok {
		http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// readiness reports whether entropyd is doing what it is configured for:
// the first feed is done, a source is usable, and, when HSM (PKCS#11)
// sources are configured, at least one of them is healthy. While every HSM
// source is down the kernel is still fed (from the other sources, or
// uncredited from the OS alone: entropyd_feeds_os_only_total), but not with
// the HSM's randomness, which is what the operator deployed entropyd for.
// The reason names each HSM source's state and last error.
func (d *daemon) readiness() (bool, string) {
	if !d.ready.Load() {
		return false, "the first feed has not happened"
	}
	var hsm []string
	for _, s := range d.set.primaries {
		if s.hsm == nil {
			continue
		}
		if s.getState() == stateHealthy {
			hsm = nil
			break
		}
		why := s.name + " is " + s.getState().String()
		if e := s.hsm().LastError; e != "" {
			why += ": " + e
		}
		hsm = append(hsm, why)
	}
	switch {
	case len(hsm) > 0:
		return false, "every HSM source is down (" + strings.Join(hsm, "; ") + "); feeding the kernel without the HSM"
	case !d.set.anyHealthy() && !(d.cfg.useOS && d.set.os.src.getState() != stateFailed):
		return false, "no healthy source"
	}
	return true, ""
}

// slogAdapter logs promhttp's errors.
type slogAdapter struct{ d *daemon }

func (a slogAdapter) Println(v ...any) { a.d.log.Error("metrics: " + fmt.Sprint(v...)) }
