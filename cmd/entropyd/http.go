package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
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

// healthz answers 200 unless every source has failed.
func (d *daemon) healthz(w http.ResponseWriter, _ *http.Request) {
	if d.set.allFailed() {
		http.Error(w, "every source has failed", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// readyz answers 200 once the first feed is done while a source is usable.
func (d *daemon) readyz(w http.ResponseWriter, _ *http.Request) {
	switch {
	case !d.ready.Load():
		http.Error(w, "not ready: the first feed has not happened", http.StatusServiceUnavailable)
	case !d.set.anyHealthy() && !(d.cfg.useOS && d.set.os.src.getState() != stateFailed):
		http.Error(w, "not ready: no healthy source", http.StatusServiceUnavailable)
	default:
		fmt.Fprintln(w, "ready")
	}
}

// slogAdapter logs promhttp's errors.
type slogAdapter struct{ d *daemon }

func (a slogAdapter) Println(v ...any) { a.d.log.Error("metrics: " + fmt.Sprint(v...)) }
