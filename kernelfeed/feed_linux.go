package kernelfeed

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Feeder issues RNDADDENTROPY and RNDRESEEDCRNG on an open /dev/random. It is
// safe for concurrent use; calls are serialised.
type Feeder struct {
	mu    sync.Mutex
	f     *os.File
	cfg   Config
	ready bool // the kernel RNG, once ready, stays ready
	// kernelReady asks whether the kernel RNG is ready: KernelReady, or a
	// test's stand-in for a kernel that is not (one that has booted is).
	kernelReady func() (bool, error)
	stats       Stats
	closed      bool
	buf         [poolInfoHeaderLen + MaxChunk]byte
}

// Open opens the device named by cfg and checks, with an empty
// RNDADDENTROPY, that the process may feed it. Without CAP_SYS_ADMIN in the
// initial user namespace it returns an error wrapping ErrNotPermitted.
func Open(cfg Config) (*Feeder, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(cfg.device(), os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("kernelfeed: %w", err)
	}
	fd := &Feeder{f: f, cfg: cfg, kernelReady: KernelReady}
	// An empty, uncredited RNDADDENTROPY mixes nothing and credits nothing:
	// it only checks the capability.
	if err := fd.ioctl(unix.RNDADDENTROPY, encodePoolInfo(fd.buf[:], 0, nil)); err != nil {
		f.Close()
		return nil, fmt.Errorf("kernelfeed: probing RNDADDENTROPY on %s: %w", cfg.device(), err)
	}
	return fd, nil
}

func (fd *Feeder) ioctl(req uint, arg []byte) error {
	rc, err := fd.f.SyscallConn()
	if err != nil {
		return err
	}
	var errno unix.Errno
	cerr := rc.Control(func(d uintptr) {
		var p unsafe.Pointer
		if len(arg) > 0 {
			p = unsafe.Pointer(&arg[0])
		}
		_, _, errno = unix.Syscall(unix.SYS_IOCTL, d, uintptr(req), uintptr(p))
	})
	if cerr != nil {
		return cerr
	}
	switch errno {
	case 0:
		return nil
	case unix.EPERM:
		return fmt.Errorf("%w (%v)", ErrNotPermitted, errno)
	default:
		return errno
	}
}

// Feed mixes p into the kernel pool, in chunks of at most MaxChunk bytes,
// crediting entropy only while the kernel RNG is not ready. With
// Config.Reseed it then asks the kernel to reseed its CRNG, once it is
// ready. On error, Result says how much was fed before it.
func (fd *Feeder) Feed(p []byte) (Result, error) {
	return fd.FeedCredited(p, math.MaxInt)
}

// FeedCredited is Feed with the credit capped at maxBits over the whole of
// p: the caller's bound on the min-entropy of the input behind p (see
// Crediting in the package documentation). maxBits <= 0 credits nothing.
func (fd *Feeder) FeedCredited(p []byte, maxBits int) (Result, error) {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if fd.closed {
		return Result{}, ErrClosed
	}
	var res Result
	for len(p) > 0 {
		chunk := p[:min(len(p), MaxChunk)]
		credited, ready, err := fd.feedChunk(chunk, max(0, maxBits-res.Credited))
		res.KernelReady = ready
		if err != nil {
			return res, err
		}
		res.Bytes += len(chunk)
		res.Credited += credited
		p = p[len(chunk):]
	}
	if fd.cfg.Reseed && res.KernelReady && res.Bytes > 0 {
		if err := fd.reseedLocked(); err != nil {
			return res, err
		}
		res.Reseeded = true
	}
	fd.stats.Feeds++
	fd.stats.LastFeedNanos = time.Now().UnixNano()
	return res, nil
}

// FeedFrom reads n bytes from r and feeds them, MaxChunk at a time, through
// the Feeder's own buffer, which is wiped after each chunk.
func (fd *Feeder) FeedFrom(r io.Reader, n int) (Result, error) {
	var res Result
	var chunk [MaxChunk]byte
	defer clear(chunk[:])
	for n > 0 {
		c := chunk[:min(n, MaxChunk)]
		if _, err := io.ReadFull(r, c); err != nil {
			return res, fmt.Errorf("kernelfeed: reading source: %w", err)
		}
		r1, err := fd.Feed(c)
		clear(c)
		res.Bytes += r1.Bytes
		res.Credited += r1.Credited
		res.KernelReady = r1.KernelReady
		res.Reseeded = res.Reseeded || r1.Reseeded
		if err != nil {
			return res, err
		}
		n -= len(c)
	}
	return res, nil
}

func (fd *Feeder) feedChunk(chunk []byte, maxBits int) (credited int, ready bool, err error) {
	if !fd.ready {
		r, err := fd.kernelReady()
		if err != nil {
			fd.stats.Errors++
			return 0, false, err
		}
		fd.ready = r
		fd.stats.KernelReady = r
	}
	if !fd.ready {
		credited = min(Credit(len(chunk), fd.cfg.BitsPerByte), maxBits)
	}
	arg := encodePoolInfo(fd.buf[:], int32(credited), chunk)
	err = fd.ioctl(unix.RNDADDENTROPY, arg)
	clear(fd.buf[:])
	if err != nil {
		fd.stats.Errors++
		return 0, fd.ready, fmt.Errorf("kernelfeed: RNDADDENTROPY: %w", err)
	}
	fd.stats.Bytes += uint64(len(chunk))
	fd.stats.CreditedBits += uint64(credited)
	return credited, fd.ready, nil
}

// Reseed asks the kernel to reseed its CRNG from its pool now
// (RNDRESEEDCRNG). Before the kernel RNG is ready there is nothing to
// reseed: the kernel answers ENODATA, returned wrapped.
func (fd *Feeder) Reseed() error {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if fd.closed {
		return ErrClosed
	}
	return fd.reseedLocked()
}

func (fd *Feeder) reseedLocked() error {
	if err := fd.ioctl(unix.RNDRESEEDCRNG, nil); err != nil {
		fd.stats.Errors++
		if errors.Is(err, unix.ENODATA) {
			return fmt.Errorf("kernelfeed: RNDRESEEDCRNG: kernel RNG not ready yet: %w", err)
		}
		return fmt.Errorf("kernelfeed: RNDRESEEDCRNG: %w", err)
	}
	fd.stats.Reseeds++
	return nil
}

// Stats returns a snapshot of the Feeder's counters.
func (fd *Feeder) Stats() Stats {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	return fd.stats
}

// Close closes the device. Further calls return ErrClosed.
func (fd *Feeder) Close() error {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if fd.closed {
		return nil
	}
	fd.closed = true
	clear(fd.buf[:])
	return fd.f.Close()
}

// KernelReady reports whether the kernel RNG has been seeded, that is
// whether getrandom(2) with GRND_NONBLOCK no longer fails with EAGAIN. It
// draws (and discards) one byte from the kernel.
func KernelReady() (bool, error) {
	var b [1]byte
	for {
		_, err := unix.Getrandom(b[:], unix.GRND_NONBLOCK)
		b[0] = 0
		switch err {
		case nil:
			return true, nil
		case unix.EAGAIN:
			return false, nil
		case unix.EINTR:
			continue
		default:
			return false, fmt.Errorf("kernelfeed: getrandom: %w", err)
		}
	}
}
