package assess

import (
	"crypto/rand"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkRestart runs the restart tests on each reference set as the
// tool's run did (its mode, bits and H_I), on one core, and reports the
// process CPU time per run (cpu-s/op), the measure the reference README
// gives for ea_restart; the IID sets use the tests' fixed seed, so that the
// permutation tests' shuffle counts are the same from run to run. The
// anchor reads 1,000,000 bytes from crypto/rand in the same run.
//
//	go test -run '^$' -bench Restart -benchtime 1x -count 3 ./health/assess
func BenchmarkRestart(b *testing.B) {
	b.Run("anchor-crypto-rand-1MB", func(b *testing.B) {
		buf := make([]byte, restartSamples)
		b.SetBytes(restartSamples)
		for b.Loop() {
			_, err := io.ReadFull(rand.Reader, buf)
			require.NoError(b, err)
		}
	})
	dir := restartTestdata(b)
	for _, name := range restartSets {
		c := loadRestartCase(b, dir, name)
		d := c.data(b)
		b.Run(name, func(b *testing.B) {
			opts := RestartOptions{IID: c.iid, HInitial: c.hI, HInitialGiven: true, Workers: 1, Seed: restartSeed}
			start := cpuTime()
			for b.Loop() {
				_, err := Restart(b.Context(), d, opts)
				require.NoError(b, err)
			}
			b.ReportMetric((cpuTime()-start).Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}

// cpuTime returns the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
