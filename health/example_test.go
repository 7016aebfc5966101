package health_test

import (
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/hsmentropy/hsmentropy/health"
)

func ExampleTester_Test() {
	t, err := health.NewTester(health.DefaultHSMConfig())
	if err != nil {
		panic(err)
	}
	block := make([]byte, 64<<10)
	rand.Read(block)
	block[len(block)-1] = 1 // so that the stuck zeros below start a new run
	usable, err := t.Test(block)
	fmt.Println(len(usable), err, t.State())

	// A stuck source: intermittent failures, then a permanent one.
	_, err = t.Test(make([]byte, 4096))
	fmt.Println(errors.Is(err, health.ErrPermanent), t.State())
	fmt.Println(err)

	// An operator restores the source; the start-up test runs again.
	t.Restore()
	rand.Read(block)
	usable, err = t.Test(block)
	fmt.Println(len(usable), err, t.State())
	// Output:
	// 64512 <nil> operational
	// true failed
	// health: repetition count test: permanent failure at sample 65546 during start-up (count 11, cutoff 9; too many intermittent failures)
	// 64512 <nil> operational
}

func ExampleAPTCutoff() {
	fmt.Println(health.RCTCutoff(0.5, 0x1p-20), health.APTCutoff(0.5, 0x1p-20, 512))
	fmt.Println(health.RCTCutoff(1, 0x1p-20), health.APTCutoff(1, 0x1p-20, 1024))
	// Output:
	// 41 410
	// 21 589
}
