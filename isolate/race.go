//go:build race

package isolate

// raceEnabled: under the race detector the child's ThreadSanitizer
// runtime has a background thread, with every signal blocked, that reads
// /proc/self/statm: opens stay allowed after the load, or the kernel kills
// the child with SIGSYS (a blocked trap signal) and no report.
const raceEnabled = true
