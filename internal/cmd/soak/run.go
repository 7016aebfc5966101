package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/hsmentropy/hsmentropy/hsmrand"
	"github.com/hsmentropy/hsmentropy/internal/faultp11"
	"github.com/hsmentropy/hsmentropy/internal/softhsmtest"
)

type config struct {
	duration, phase, sample time.Duration
	entropyd, module, out   string
	readers, window         int
}

// run sets up the token, starts entropyd and the readers, cycles the faults
// and checks the figures.
func run(ctx context.Context, cfg config) (err error) {
	phases := cycle(cfg.phase)
	cycleLen := time.Duration(len(phases)) * cfg.phase
	cycles := max(2, int((cfg.duration+cycleLen-1)/cycleLen))
	dir := cfg.out
	if dir == "" {
		if dir, err = os.MkdirTemp("", "soak-"); err != nil {
			return err
		}
		defer func() {
			if err == nil {
				os.RemoveAll(dir)
			} else {
				fmt.Printf("soak: entropyd's log and heap profiles kept in %s\n", dir)
			}
		}()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	module, err := filepath.Abs(cfg.module)
	if err != nil {
		return err
	}

	// The token, its PIN in a file, the control file; the environment
	// serves this process's Reader and entropyd alike.
	hsm, err := softhsmtest.NewDirEnv(filepath.Join(dir, "softhsm"))
	if err != nil {
		return err
	}
	tok, err := hsm.InitToken("soak", "", "")
	if err != nil {
		return err
	}
	pinFile := filepath.Join(dir, "pin")
	if err := os.WriteFile(pinFile, []byte(tok.PIN), 0o600); err != nil {
		return err
	}
	ctl := faultp11.New(dir)
	if err := ctl.Clear(); err != nil {
		return err
	}
	if err := os.Setenv(faultp11.ControlEnv, ctl.Path()); err != nil {
		return err
	}

	d, err := startEntropyd(cfg.entropyd, dir, "pkcs11:token="+tok.Label+"?module-path="+module, pinFile)
	if err != nil {
		return err
	}
	defer d.stop()

	r, err := hsmrand.Open(ctx, hsmrand.Config{
		ModulePath: module, TokenLabel: tok.Label, PIN: []byte(tok.PIN),
		TokenOptions: hsmrand.TokenOptions{BackoffMax: 2 * time.Second},
		Options: hsmrand.Options{
			Policy: hsmrand.Degrade, Deadline: 100 * time.Millisecond,
			HSMBuffer: hsmrand.MinHSMBuffer, Reseed: hsmrand.ReseedPolicy{Bytes: 64 << 10},
		},
	})
	if err != nil {
		return err
	}
	rctx, stopReaders := context.WithCancel(ctx)
	rs := startReaders(rctx, r, cfg.readers, cfg.window)
	defer func() {
		ctl.Clear() // release a hung call before the Reader closes
		stopReaders()
		rs.wg.Wait()
		if cerr := r.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()

	fmt.Printf("soak: %d cycles of %d phases of %v (%v); entropyd pid %d, %s; %d readers\n",
		cycles, len(phases), cfg.phase, time.Duration(cycles)*cycleLen, d.cmd.Process.Pid, dir, cfg.readers)
	start := time.Now()
	var first, last figures
	var ownFirst, ownLast int // this process's goroutines: the Reader's and the readers'
	nextSample := start.Add(cfg.sample)
	for c := range cycles {
		for _, p := range phases {
			if err := ctl.Set(p...); err != nil {
				return err
			}
			select {
			case <-ctx.Done():
				return context.Cause(ctx)
			case <-time.After(cfg.phase):
			}
			if d.exited() {
				return fmt.Errorf("entropyd exited: %v", d.err)
			}
			if time.Now().After(nextSample) {
				nextSample = nextSample.Add(cfg.sample)
				if f, err := d.measure(); err == nil {
					fmt.Printf("soak: %v cycle %d: %v\n", since(start), c+1, f)
				} else {
					fmt.Printf("soak: %v cycle %d: %v\n", since(start), c+1, err)
				}
			}
		}
		// The end of a clear phase: the figures of record.
		switch c {
		case 0, cycles - 1:
			f, err := d.measure()
			if err != nil {
				return err
			}
			name, own := "start", runtime.NumGoroutine()
			if c == 0 {
				first, ownFirst = f, own
			} else {
				last, ownLast, name = f, own, "end"
			}
			fmt.Printf("soak: %v %s (after cycle %d): %v; reader process: %d goroutines\n", since(start), name, c+1, f, own)
			if err := saveHeap(d.client, d.base, filepath.Join(dir, "heap-"+name+".pb.gz")); err != nil {
				return err
			}
		}
	}

	total, dups := rs.seen.counts()
	st := r.Stats()
	metrics, _ := get(d.client, d.base+"/metrics")
	ok, _ := metric(metrics, `entropyd_feeds_total{result="ok"}`)
	osOnly, _ := metric(metrics, `entropyd_feeds_os_only_total`)
	healthy, _ := metric(metrics, `entropyd_source_state{source="pkcs11",state="healthy"}`)
	fmt.Printf("soak: entropyd: %.0f feeds, %.0f from the OS alone; token source healthy at the end: %v\n", ok, osOnly, healthy == 1)
	fmt.Printf("soak: reader: %d reads of 32 bytes, %d MiB read, %d read errors (last: %v); hsmrand %d HSM calls, %d HSM errors, %d OS-only seeds, state %v\n",
		total, rs.bytes.Load()>>20, rs.errs.Load(), rs.lastErr(), st.HSMCalls, st.HSMErrors, st.OSOnlySeeds, st.State)
	fmt.Printf("soak: entropyd from %v to %v\n", first, last)
	var errs []error
	if dups != 0 {
		errs = append(errs, fmt.Errorf("%d of %d reads of 32 bytes repeated an earlier one's first 16 bytes (first: %x)", dups, total, rs.seen.first))
	}
	if err := checkGrowth(first, last); err != nil {
		errs = append(errs, err)
	}
	if ownLast-ownFirst > maxGoroutineGrowth {
		errs = append(errs, fmt.Errorf("the reader process's goroutines grew from %d to %d, bound %d more", ownFirst, ownLast, maxGoroutineGrowth))
	}
	return errors.Join(errs...)
}

// daemon is the entropyd child.
type daemon struct {
	cmd    *exec.Cmd
	log    *os.File
	base   string
	client *http.Client
	done   chan struct{}
	err    error
}

// startEntropyd starts entropyd on the token, its log in dir/entropyd.log,
// and waits until it serves /healthz.
func startEntropyd(bin, dir, uri, pinFile string) (*daemon, error) {
	// A free port: entropyd logs at warn, so it does not log its address.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	log, err := os.Create(filepath.Join(dir, "entropyd.log"))
	if err != nil {
		return nil, err
	}
	args := []string{"run", "--listen", addr, "--debug-pprof", "--log-level", "warn",
		"--feed-interval", "200ms", "--source-timeout", "200ms",
		"--pkcs11-uri", uri, "--pin-file", pinFile}
	if os.Geteuid() != 0 {
		args = append(args, "--no-feed")
	}
	d := &daemon{cmd: exec.Command(bin, args...), log: log, base: "http://" + addr,
		client: &http.Client{Timeout: 30 * time.Second}, done: make(chan struct{})}
	d.cmd.Stdout, d.cmd.Stderr = log, log
	if err := d.cmd.Start(); err != nil {
		log.Close()
		return nil, err
	}
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := get(d.client, d.base+"/healthz"); err == nil {
			return d, nil
		} else if d.exited() || time.Now().After(deadline) {
			d.stop()
			return nil, fmt.Errorf("entropyd did not come up (see %s): %v", log.Name(), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

func (d *daemon) measure() (figures, error) {
	return measure(d.client, d.cmd.Process.Pid, d.base)
}

// stop sends SIGTERM, then SIGKILL after 10 s.
func (d *daemon) stop() {
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
	}
	d.log.Close()
}
