package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// figures are one reading of entropyd's size.
type figures struct {
	RSS        int64 // VmRSS, bytes
	Anon       int64 // RssAnon: VmRSS less the pages of mapped files, bytes
	Heap       int64 // live Go heap after a GC (HeapAlloc), bytes
	Goroutines int
	Threads    int // entries of /proc/PID/task
	FDs        int // entries of /proc/PID/fd
}

func (f figures) String() string {
	return fmt.Sprintf("rss %.1f MiB (anonymous %.1f), live heap %.2f MiB, %d goroutines, %d threads, %d fds",
		float64(f.RSS)/(1<<20), float64(f.Anon)/(1<<20), float64(f.Heap)/(1<<20), f.Goroutines, f.Threads, f.FDs)
}

// measure reads entropyd's figures from /proc and its pprof endpoint at
// base (http://host:port).
func measure(client *http.Client, pid int, base string) (figures, error) {
	var f figures
	var err error
	proc := fmt.Sprintf("/proc/%d", pid)
	if err := freeOSMemory(client, base); err != nil {
		return f, err
	}
	if f.Heap, err = heapAlloc(client, base); err != nil {
		return f, err
	}
	if f.Goroutines, err = goroutines(client, base); err != nil {
		return f, err
	}
	if f.RSS, err = statusKB(proc+"/status", "VmRSS"); err != nil {
		return f, err
	}
	if f.Anon, err = statusKB(proc+"/status", "RssAnon"); err != nil {
		return f, err
	}
	f.RSS <<= 10
	f.Anon <<= 10
	if f.Threads, err = entries(proc + "/task"); err != nil {
		return f, err
	}
	if f.FDs, err = entries(proc + "/fd"); err != nil {
		return f, err
	}
	return f, nil
}

// statusKB returns a "Name:   N kB" field of /proc/PID/status.
func statusKB(path, name string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s", path, name)
}

func entries(dir string) (int, error) {
	d, err := os.ReadDir(dir)
	return len(d), err
}

// get returns the body of a GET, at most 16 MiB of it.
func get(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}

// freeOSMemory has entropyd hand its free heap pages back to the kernel
// (debug.FreeOSMemory), so that its resident memory shows what is in use.
func freeOSMemory(client *http.Client, base string) error {
	resp, err := client.Post(base+"/debug/free-os-memory", "", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("POST /debug/free-os-memory: %s", resp.Status)
	}
	return nil
}

// goroutines reads the count from the goroutine profile's first line,
// "goroutine profile: total N".
func goroutines(client *http.Client, base string) (int, error) {
	body, err := get(client, base+"/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(body, "\n")
	n, ok := strings.CutPrefix(line, "goroutine profile: total ")
	if !ok {
		return 0, fmt.Errorf("goroutine profile begins %q", line)
	}
	return strconv.Atoi(n)
}

// heapAlloc runs a GC in entropyd (gc=1) and reads "# HeapAlloc = N" from
// the text heap profile.
func heapAlloc(client *http.Client, base string) (int64, error) {
	body, err := get(client, base+"/debug/pprof/heap?debug=1&gc=1")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "# HeapAlloc = "); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no HeapAlloc in the heap profile")
}

// saveHeap writes a heap profile (after a GC) to path, for
// go tool pprof -base.
func saveHeap(client *http.Client, base, path string) error {
	body, err := get(client, base+"/debug/pprof/heap?gc=1")
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(body), 0o644)
}

// metric returns the value of the series line starting with series in a
// /metrics body.
func metric(body, series string) (float64, bool) {
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}

// since formats an elapsed time to the second.
func since(t time.Time) time.Duration { return time.Since(t).Round(time.Second) }
