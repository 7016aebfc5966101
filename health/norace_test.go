//go:build !race

package health

// raceEnabled reports a -race build, in which instrumented loops run about
// ten times slower and long tests shrink their input.
const raceEnabled = false
