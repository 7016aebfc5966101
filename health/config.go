package health

import "fmt"

// Defaults for a zero Config field.
const (
	// DefaultIntermittentAlpha is jitterentropy's intermittent false-alarm
	// probability per test opportunity.
	DefaultIntermittentAlpha = 0x1p-30
	// DefaultPermanentAlpha is jitterentropy's permanent false-alarm
	// probability per test opportunity.
	DefaultPermanentAlpha = 0x1p-60
	// DefaultPeriod is the Period, in samples, used when PermanentAfter is set
	// and Period is not.
	DefaultPeriod = 1 << 20
	// binaryWindow and otherWindow are the APT windows of SP 800-90B §4.4.2.
	binaryWindow = 1024
	otherWindow  = 512
	// maxWindow bounds Window so that counts and offsets stay small.
	maxWindow = 1 << 20
)

// StartUpSamples is the number of consecutive samples the start-up test
// (SP 800-90B §4.3) runs the continuous tests over before any sample is
// released: after NewTester, after an intermittent failure, after Restore.
const StartUpSamples = 1024

// Config configures a Tester. A zero field means its documented default;
// NewTester never modifies the Config it is given.
type Config struct {
	// MinEntropy is the claimed min-entropy per sample, in bits, the H of
	// SP 800-90B §4.4; 0 < MinEntropy ≤ BitsPerSample. Required.
	MinEntropy float64
	// BitsPerSample is the sample width b, 1 to 8; samples come one per
	// byte in the low b bits, the high bits are ignored. Default 8.
	BitsPerSample int
	// Window is the APT window W: default 1024 when BitsPerSample is 1 and
	// 512 otherwise, the values SP 800-90B §4.4.2 prescribes; other values
	// from 2 to 2^20 are accepted (for tests and experiments).
	Window int
	// IntermittentAlpha is the false-alarm probability per opportunity of an
	// intermittent failure. Default DefaultIntermittentAlpha (2^-30).
	IntermittentAlpha float64
	// PermanentAlpha is the false-alarm probability per opportunity of a
	// permanent failure, at most IntermittentAlpha. Default
	// DefaultPermanentAlpha (2^-60).
	PermanentAlpha float64
	// PermanentAfter, when positive, makes the PermanentAfter-th intermittent
	// failure within Period samples permanent. Default 0: off.
	PermanentAfter int
	// Period is the span, in samples, PermanentAfter counts over. Default
	// DefaultPeriod when PermanentAfter is set.
	Period int64
}

// DefaultHSMConfig returns the configuration for 8-bit HSM output, which is
// already DRBG output and so, from a working token, uniform: H = 8 bits per
// byte, W = 512, intermittent alpha 2^-64, permanent alpha 2^-128, and the
// third intermittent failure within 2^30 samples (about 10 s at 100 MB/s)
// permanent.
//
// Its false-alarm rate at 100 MB/s is below one per year:
//
//	samples per year  = 10^8/s × 31,557,600 s = 3.16e15 ≈ 2^51.49
//	RCT cutoff        = 1 + ceil(64/8) = 9; a uniform byte completes a run of
//	                    9 with probability 256^-8 = 2^-64
//	RCT alarms/year   = 2^51.49 × 2^-64 = 1.7e-4
//	APT cutoff        = 1 + CRITBINOM(512, 2^-8, 1-2^-64) = 26; the window's
//	                    first sample is always counted, so B = 1 +
//	                    Binomial(511, 2^-8), and a window holds on average
//	                    E[(B-25)+] = 2.0e-19 ≈ 2^-62.1 failures (a little
//	                    above the nominal 2^-64); 2^51.49 / 512 = 2^42.49
//	                    windows a year
//	APT alarms/year   = 2^42.49 × 2.0e-19 = 1.2e-6
//	total             = 1.7e-4 per year, one in about 5,800 years
//
// Permanent failures are rarer still (cutoffs 17 and 41, or three
// intermittent failures within 2^30 samples). A constant byte fails the RCT
// intermittently at its 9th sample and permanently at its 11th (the third
// intermittent failure).
func DefaultHSMConfig() Config {
	return Config{
		MinEntropy:        8,
		BitsPerSample:     8,
		Window:            otherWindow,
		IntermittentAlpha: 0x1p-64,
		PermanentAlpha:    0x1p-128,
		PermanentAfter:    3,
		Period:            1 << 30,
	}
}

// resolve returns a copy of c with the defaults filled in, validated, and
// the four cutoffs it implies.
func (c Config) resolve() (Config, cutoffs, error) {
	if c.BitsPerSample == 0 {
		c.BitsPerSample = 8
	}
	if c.BitsPerSample < 1 || c.BitsPerSample > 8 {
		return c, cutoffs{}, fmt.Errorf("health: BitsPerSample %d is not in [1, 8]", c.BitsPerSample)
	}
	if !(c.MinEntropy > 0 && c.MinEntropy <= float64(c.BitsPerSample)) {
		return c, cutoffs{}, fmt.Errorf("health: MinEntropy %g is not in (0, %d] (BitsPerSample)", c.MinEntropy, c.BitsPerSample)
	}
	if c.Window == 0 {
		c.Window = otherWindow
		if c.BitsPerSample == 1 {
			c.Window = binaryWindow
		}
	}
	if c.Window < 2 || c.Window > maxWindow {
		return c, cutoffs{}, fmt.Errorf("health: Window %d is not in [2, %d]", c.Window, maxWindow)
	}
	if c.IntermittentAlpha == 0 {
		c.IntermittentAlpha = DefaultIntermittentAlpha
	}
	if c.PermanentAlpha == 0 {
		c.PermanentAlpha = DefaultPermanentAlpha
	}
	if !(c.IntermittentAlpha > 0 && c.IntermittentAlpha < 1) {
		return c, cutoffs{}, fmt.Errorf("health: IntermittentAlpha %g is not in (0, 1)", c.IntermittentAlpha)
	}
	if !(c.PermanentAlpha > 0 && c.PermanentAlpha <= c.IntermittentAlpha) {
		return c, cutoffs{}, fmt.Errorf("health: PermanentAlpha %g is not in (0, IntermittentAlpha %g]", c.PermanentAlpha, c.IntermittentAlpha)
	}
	if c.PermanentAfter < 0 {
		return c, cutoffs{}, fmt.Errorf("health: PermanentAfter %d is negative", c.PermanentAfter)
	}
	if c.Period < 0 {
		return c, cutoffs{}, fmt.Errorf("health: Period %d is negative", c.Period)
	}
	if c.PermanentAfter > 0 && c.Period == 0 {
		c.Period = DefaultPeriod
	}
	if c.PermanentAfter > 1<<16 {
		return c, cutoffs{}, fmt.Errorf("health: PermanentAfter %d is above %d", c.PermanentAfter, 1<<16)
	}

	cut := cutoffs{
		rct:     RCTCutoff(c.MinEntropy, c.IntermittentAlpha),
		rctPerm: RCTCutoff(c.MinEntropy, c.PermanentAlpha),
		apt:     APTCutoff(c.MinEntropy, c.IntermittentAlpha, c.Window),
		aptPerm: APTCutoff(c.MinEntropy, c.PermanentAlpha, c.Window),
	}
	if cut.apt < 2 {
		return c, cutoffs{}, fmt.Errorf("health: IntermittentAlpha %g is too large: the APT cutoff is %d, so every window fails", c.IntermittentAlpha, cut.apt)
	}
	if cut.rctPerm >= maxCutoff {
		return c, cutoffs{}, fmt.Errorf("health: MinEntropy %g is too small: the RCT cutoff overflows", c.MinEntropy)
	}
	if cut.aptPerm > c.Window {
		return c, cutoffs{}, fmt.Errorf("health: APT cutoff %d at alpha %g exceeds the window %d: MinEntropy %g is too low for the test ever to fail",
			cut.aptPerm, c.PermanentAlpha, c.Window, c.MinEntropy)
	}
	return c, cut, nil
}

// cutoffs are the intermittent and permanent cutoffs of both tests.
type cutoffs struct {
	rct, rctPerm int
	apt, aptPerm int
}
