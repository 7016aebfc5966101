package assess

import (
	"errors"
	"fmt"
	"math/bits"
)

// Errors and warnings of [Prepare]. The errors stop an assessment; the
// warnings (in [Data.Warnings]) do not, as in the tool.
var (
	// ErrEmpty reports that there are no samples.
	ErrEmpty = errors.New("assess: no samples")
	// ErrTooWide reports a sample with a bit set above the width given.
	ErrTooWide = errors.New("assess: samples do not fit within the bits per sample given")
	// ErrOneSymbol reports that every sample has the same value: the tool
	// awards no entropy and stops.
	ErrOneSymbol = errors.New("assess: symbol alphabet consists of 1 symbol, no entropy awarded")
	// ErrFewSamples (a warning) reports fewer than MinSamples samples.
	ErrFewSamples = fmt.Errorf("assess: data contains less than %d samples", MinSamples)
	// ErrNarrow (a warning) reports that no sample uses the highest bit of
	// the width given.
	ErrNarrow = errors.New("assess: symbols appear to be narrower than described")
)

// maxBits is the widest sample the tool accepts: one sample per byte.
const maxBits = 8

// Prepare prepares samples for assessment the way the tool's read_file does:
// raw holds one sample per byte; bits is the number of bits per sample (1 to
// 8), or 0 to infer it from the highest bit set in any sample. raw is not
// modified or retained.
//
// Prepare fails for an empty input, for a bits value out of range, for a
// sample wider than bits, and for a single distinct value (the tool awards no
// entropy to such data). Fewer than [MinSamples] samples is a warning in
// [Data.Warnings], as in the tool.
func Prepare(raw []byte, bits int) (*Data, error) {
	if bits < 0 || bits > maxBits {
		return nil, fmt.Errorf("assess: bits per sample %d not in 1..%d (0 infers it)", bits, maxBits)
	}
	if len(raw) == 0 {
		return nil, ErrEmpty
	}
	d := &Data{}

	// Step 1. Establish the width from the highest bit set in any sample.
	var or byte
	for _, x := range raw {
		or |= x
	}
	used := widthOf(or)
	switch {
	case bits == 0:
		bits = used
		if bits == 0 {
			// Every sample is zero: one symbol, reported below.
			bits = 1
		}
	case used > bits:
		return nil, fmt.Errorf("%w: a sample is %d bits wide, %d given", ErrTooWide, used, bits)
	case used < bits:
		d.Warnings = append(d.Warnings, ErrNarrow)
	}
	d.Bits = bits

	// Step 2. Mask to the width and note which values occur.
	mask := byte(1<<bits - 1)
	d.Raw = make([]byte, len(raw))
	var seen [1 << maxBits]bool
	for i, x := range raw {
		x &= mask
		d.Raw[i] = x
		seen[x] = true
	}

	// Step 3. Renumber the values seen to 0..K-1 in increasing order.
	var rank [1 << maxBits]byte
	for v, ok := range seen {
		if ok {
			rank[v] = byte(d.K)
			d.K++
		}
	}
	if d.K <= 1 {
		return nil, ErrOneSymbol
	}
	d.Symbols = make([]byte, len(raw))
	for i, x := range d.Raw {
		d.Symbols[i] = rank[x]
	}

	// Step 4. Expand the masked (not renumbered) samples to a bitstring,
	// most significant bit first.
	d.Bitstring = expandBits(d.Raw, bits)

	if len(raw) < MinSamples {
		d.Warnings = append(d.Warnings, ErrFewSamples)
	}
	return d, nil
}

// widthOf returns the position of the highest bit set in x, 0 for x == 0.
func widthOf(x byte) int {
	return bits.Len8(x)
}

// expandBits writes the low n bits of every sample, most significant first.
func expandBits(samples []byte, n int) []byte {
	out := make([]byte, len(samples)*n)
	if n == 1 {
		copy(out, samples)
		return out
	}
	// spell[v] holds the n bits of v in its first n bytes; whole 8-byte
	// rows are stored (the surplus is overwritten by the next sample) while
	// they fit, the last samples are copied.
	var spell [1 << maxBits][maxBits]byte
	for v := range spell {
		for j := range n {
			spell[v][j] = byte(v>>uint(n-1-j)) & 1
		}
	}
	o, i := 0, 0
	for ; o+maxBits <= len(out); i++ {
		*(*[maxBits]byte)(out[o:]) = spell[samples[i]]
		o += n
	}
	for ; i < len(samples); i++ {
		o += copy(out[o:], spell[samples[i]][:n])
	}
	return out
}

// BitstringFor returns the bitstring the tool assesses: all of it, or, with
// truncate (the tool's -t option), at most its first MinSamples bits.
func (d *Data) BitstringFor(truncate bool) []byte {
	if truncate && len(d.Bitstring) > MinSamples {
		return d.Bitstring[:MinSamples]
	}
	return d.Bitstring
}
