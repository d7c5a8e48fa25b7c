//go:build race

package pcall

const raceEnabled = true
