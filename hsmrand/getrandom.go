package hsmrand

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/hsmentropy/hsmentropy/mixer"
)

// GetRandom returns n random bytes read with prediction resistance (SP
// 800-90A Rev. 1, Section 9.3.1): every 64 KiB of output is generated
// after a reseed whose entropy input is SeedLen fresh HSM bytes, each
// byte used once. It implements go-kms-wrapping's entropy.Sourcer.
//
// The HSM bytes come from the buffer (the default), or with
// Options.LiveGetRandom from a request to the HSM made during the call; the
// package documentation says what prediction resistance means in each
// mode.
//
// GetRandom never returns output whose seed lacks HSM bytes, whatever the
// policy: when the HSM cannot supply them within Options.Deadline (at once
// under Degrade while the HSM is known to be down), it returns an error
// matching ErrUnavailable, or ErrHealthFailure or ErrSourceFailed once the
// HSM has failed for good, where Read under Degrade would have served from
// the OS. Only a caller that sets Options.AllowOSOnlyGetRandom (with
// Degrade) gets such output instead, counted in Stats.GetRandomOSOnly.
// Other errors are as for Read.
func (r *Reader) GetRandom(n int) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("hsmrand: GetRandom(%d): negative length", n)
	}
	if e := r.sticky.Load(); e != nil {
		return nil, e.err
	}
	b := make([]byte, n)
	if n == 0 {
		return b, nil
	}
	if r.cfg.liveGetRandom {
		if err := r.getRandomLive(b); err != nil {
			return nil, err
		}
		return b, nil
	}
	// The zero Seeding fails the call rather than seed from the OS alone,
	// whatever onPrimaryError says for the Reader's other reads.
	var in mixer.Seeding
	if r.cfg.osOnlyGetRandom {
		in.OnError = r.onPrimaryError
	}
	osOnly, err := r.mx.ReadPRWith(b, in)
	if err != nil {
		return nil, r.readError(err)
	}
	if osOnly > 0 {
		r.getRandomOSOnly.Add(1)
	}
	return b, nil
}

// getRandomLive fills b with prediction resistance from HSM bytes drawn
// for this call: each request of up to p11.MaxChunk bytes to the HSM
// covers up to MaxChunk/SeedLen reseeds, one per MaxRequest bytes of b.
// The whole call is bounded by the deadline. On error b is zeroed.
func (r *Reader) getRandomLive(b []byte) error {
	ctx, cancel := context.WithTimeout(r.life, r.cfg.deadline)
	defer cancel()
	for q := b; len(q) > 0; {
		reqs := min((len(q)+mixer.MaxRequest-1)/mixer.MaxRequest, maxDraw/mixer.SeedLen)
		n := min(len(q), reqs*mixer.MaxRequest)
		entropy, err := r.drawLive(ctx, reqs*mixer.SeedLen)
		if err != nil {
			clear(b)
			err = r.liveError(ctx, err)
			if !errors.Is(err, ErrClosed) {
				r.live.failed.Add(1) // the mixer counts its own
			}
			return err
		}
		_, err = r.mx.ReadPRWith(q[:n], mixer.Seeding{Entropy: entropy})
		r.pool.countUsed(len(entropy.b) - len(entropy.rest()))
		entropy.wipe()
		if err != nil {
			clear(b)
			return r.readError(err)
		}
		q = q[n:]
	}
	return nil
}

// liveError gives a failed live draw the Reader's error.
func (r *Reader) liveError(ctx context.Context, err error) error {
	if e := r.stickyError(); e != nil {
		return e
	}
	switch {
	case errors.Is(err, ErrHealthFailure), errors.Is(err, ErrSourceFailed), errors.Is(err, ErrUnavailable):
		return err
	case permanent(err):
		return fmt.Errorf("%w: %w", ErrSourceFailed, err)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%w: GetRandom's request to the HSM took longer than %v: %w", ErrUnavailable, r.cfg.deadline, err)
	}
	return fmt.Errorf("%w: GetRandom's request to the HSM: %w", ErrUnavailable, err)
}

// wipingReader hands out its bytes once, zeroing each as it goes.
type wipingReader struct {
	b   []byte
	off int
}

func (w *wipingReader) Read(p []byte) (int, error) {
	if len(w.rest()) == 0 {
		return 0, io.EOF
	}
	n := copy(p, w.rest())
	clear(w.b[w.off : w.off+n])
	w.off += n
	return n, nil
}

// rest returns the bytes not yet read.
func (w *wipingReader) rest() []byte { return w.b[w.off:] }

// wipe zeroes what is left.
func (w *wipingReader) wipe() {
	clear(w.b)
	w.off = len(w.b)
}
