//go:build race

package assess

// raceEnabled is true under the race detector, which makes the full
// 10,000-shuffle runs take many minutes.
const raceEnabled = true
