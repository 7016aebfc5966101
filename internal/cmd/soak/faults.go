package main

import (
	"time"

	"github.com/hsmentropy/hsmentropy/internal/faultp11"
)

// The return values the cycle injects, from PKCS#11 v2.40's pkcs11t.h (only
// hsmrand/internal/p11 imports github.com/miekg/pkcs11, which names them).
const (
	ckrGeneralError         = 0x05
	ckrDeviceError          = 0x30
	ckrSessionHandleInvalid = 0xB3
)

// cycle is the fault cycle, one entry per phase; nil is a clear phase. It
// ends with a clear phase, at whose end the figures are taken. Corrupt
// output is refused by hsmrand's p11 layer as a bad block (an error, not a
// health failure), so no phase takes the token out for good.
func cycle(phase time.Duration) [][]string {
	return [][]string{
		{faultp11.Delay("C_GenerateRandom", 20*time.Millisecond)}, // a slow network HSM
		{faultp11.Fail("C_GenerateRandom", ckrDeviceError, -1)},
		nil,
		{faultp11.Removed(phase / 2)}, // gone, then back by itself
		{faultp11.Output(faultp11.OutputZero, 3)},
		{faultp11.Output(faultp11.OutputRepeat, 3)},
		{faultp11.Output(faultp11.OutputShort, 3)},
		nil,
		{faultp11.Pareto(faultp11.All, time.Millisecond, 1.2, 500*time.Millisecond)},
		{faultp11.Invalidate(), faultp11.Fail("C_GenerateRandom", ckrSessionHandleInvalid, 3)},
		{faultp11.Hang("C_GenerateRandom")}, // released by the next phase
		{faultp11.Fail(faultp11.All, ckrGeneralError, 5)},
		nil,
	}
}
