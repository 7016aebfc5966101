//go:build race

package hsmrand

// raceEnabled says the race detector is on: long tests use smaller counts.
const raceEnabled = true
