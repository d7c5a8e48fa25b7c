//go:build race

package loader

// hostRaceEnabled: the race detector's shadow memory makes RSS and
// mapping counts meaningless for leak checks.
const hostRaceEnabled = true
