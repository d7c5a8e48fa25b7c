//go:build !amd64 && !arm64

package pcall

// No machine code for the test images where runplug has no port.
var (
	testFuncs []testFunc
	faultOff  map[string]uintptr
)

func archFaultCases(m *testImage) []faultCase { return nil }
