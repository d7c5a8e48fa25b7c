//go:build !race

package loader

const hostRaceEnabled = false
