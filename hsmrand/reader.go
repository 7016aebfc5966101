package hsmrand

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/hsmentropy/hsmentropy/health"
	"github.com/hsmentropy/hsmentropy/mixer"
)

// Reader is an io.Reader of random bytes that mixes health-tested HSM bytes
// with the operating system's (see the package documentation). It is safe
// for concurrent use. Its Read never allocates for reads shorter than the
// mixer's buffer (16 KiB) and keeps failing once it has failed for good.
type Reader struct {
	cfg  settings
	mx   *mixer.Mixer
	pool *pool

	// sticky is set by a permanent failure under FailClosed, and replaced
	// by ErrClosed at Close. Once set, every read returns it.
	sticky  atomic.Pointer[stickyErr]
	started atomic.Bool // New or Open has returned the Reader
	state   stateTracker

	// life ends at Close: it bounds GetRandom's live requests to the HSM,
	// which live tracks for Close to wait for.
	life    context.Context
	endLife context.CancelFunc
	live    liveDraws

	installedWaits  atomic.Uint64
	getRandomOSOnly atomic.Uint64
	closeOnce       sync.Once
	closeErr        error
}

// New returns a Reader whose primary source is source (an HSM's character
// device such as /dev/hwrng, or a test source) instead of a PKCS#11 token.
// The zero Options selects the defaults. New waits, up to Options.Deadline,
// until source has given bytes that pass the start-up health test and
// seeded every mixer shard, and fails otherwise.
//
// source is read one call at a time, in requests of at most 64 KiB, by the
// Reader's refiller goroutine and, with Options.LiveGetRandom, by
// GetRandom, which then waits its turn (up to Options.Deadline); it need
// not be safe for concurrent use. An error from it is retried after a back-off, except io.EOF and
// io.ErrUnexpectedEOF, which end the stream for good. Close does not close
// source, and waits for a read of it in progress to return.
func New(source io.Reader, opts Options) (*Reader, error) {
	if source == nil {
		return nil, errors.New("hsmrand: New: source is nil")
	}
	return newReader(context.Background(), readerSource{source}, &opts)
}

// newReader builds a Reader over src and takes ownership of it: on error
// src is closed.
func newReader(ctx context.Context, src source, opts *Options) (*Reader, error) {
	s, err := opts.settings()
	if err != nil {
		src.Close()
		return nil, err
	}
	tester, err := health.NewTester(s.health)
	if err != nil {
		src.Close()
		return nil, fmt.Errorf("hsmrand: Options.Health: %w", err)
	}
	r := &Reader{cfg: s}
	r.life, r.endLife = context.WithCancel(context.WithoutCancel(ctx))
	r.state.notify = s.notify
	if rs, ok := src.(readerSource); ok && s.liveGetRandom {
		// GetRandom's live draws and the refiller share the io.Reader.
		src = newSerialSource(rs)
	}
	r.pool = newPool(src, tester, r, &r.cfg)
	// Step 1. The first healthy seed: every shard's entropy input.
	shards := s.mixer.Shards
	if shards == 0 {
		shards = min(runtime.GOMAXPROCS(0), mixer.MaxShards)
	}
	if err := r.pool.waitReady(ctx, min(shards*mixer.SeedLen, s.hsmBuf/2)); err != nil {
		r.shutdown()
		return nil, fmt.Errorf("hsmrand: the HSM gave no healthy seed: %w", err)
	}
	// Step 2. Instantiate the mixer from the buffer; its hook says Fail
	// until started is set, whatever the policy.
	mc := s.mixer
	mc.Primary = r.pool
	mc.OnPrimaryError = r.onPrimaryError
	if r.mx, err = mixer.New(mc); err != nil {
		r.shutdown()
		return nil, fmt.Errorf("hsmrand: the HSM gave no healthy seed: %w", err)
	}
	r.started.Store(true)
	return r, nil
}

// Read fills p with random bytes and returns len(p), nil, or 0 and an error:
// ErrClosed, a sticky failure (FailClosed: errors.Is ErrHealthFailure or
// ErrSourceFailed), or, when fresh HSM bytes were needed and none came
// within Options.Deadline, an error matching ErrUnavailable. On error p is
// zeroed. Read never returns HSM bytes: see the package documentation.
func (r *Reader) Read(p []byte) (int, error) {
	if e := r.sticky.Load(); e != nil {
		clear(p)
		return 0, e.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := r.mx.Read(p)
	if err != nil {
		return 0, r.readError(err)
	}
	return n, nil
}

// readError turns a mixer error into the Reader's: the sticky error if one
// was set meanwhile, ErrClosed, or the error with context.
func (r *Reader) readError(err error) error {
	if e := r.stickyError(); e != nil {
		return e
	}
	if errors.Is(err, mixer.ErrClosed) || errors.Is(err, ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("hsmrand: read: %w", err)
}

// stickyError returns the error every read returns from now on, or nil.
// Under FailClosed it also sets it when the pool has ended the stream but
// its report (onSourceFailed) is still on its way, so that the read that
// met the failure and every read after it return the same error.
func (r *Reader) stickyError() error {
	if e := r.sticky.Load(); e != nil {
		return e.err
	}
	if r.cfg.policy != FailClosed {
		return nil
	}
	fatal := r.pool.fatalError()
	if fatal == nil {
		return nil
	}
	r.sticky.CompareAndSwap(nil, &stickyErr{fatal})
	return r.sticky.Load().err
}

// Close stops the refiller, wipes the HSM buffer and the mixer's state and
// buffers, and closes the token (a Reader made by New does not close its
// source). Reads in progress and later reads return ErrClosed; Close waits
// for the HSM requests in flight, the refiller's and those of GetRandom
// with Options.LiveGetRandom. Close returns
// the token's Close error; calling it again returns the same.
//
// Close does not touch crypto/rand.Reader, which would race with the
// goroutines using it: if r is installed, crypto/rand goes on through it to
// the Reader that Install replaced, until restore is called.
func (r *Reader) Close() error {
	r.closeOnce.Do(func() {
		r.sticky.Store(&stickyErr{ErrClosed})
		r.closeErr = r.shutdown()
		r.state.update(func(s *stateInputs) { s.closed = true }, ErrClosed)
	})
	return r.closeErr
}

// shutdown stops GetRandom's live requests and the pool, then the mixer,
// then closes the source.
func (r *Reader) shutdown() error {
	r.endLife()
	r.live.stop()
	r.pool.close()
	if r.mx != nil {
		r.mx.Close()
	}
	if err := r.pool.src.Close(); err != nil {
		return fmt.Errorf("hsmrand: close: %w", err)
	}
	return nil
}
