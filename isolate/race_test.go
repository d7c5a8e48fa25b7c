//go:build race

package isolate_test

// raceBuild: the child allows opens after the load under the race
// detector (see race.go).
const raceBuild = true
