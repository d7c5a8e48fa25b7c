package loader

import (
	"fmt"
	"os"
	"testing"

	"github.com/runplug/runplug/internal/pcall"
)

// TestMain fails the package when a recovered fault or deadline found one
// of runplug's C locks held (sandbox.LocksHeldAtRecovery): a lock held
// across plugin code, which the next Load or Close would wait for forever.
func TestMain(m *testing.M) {
	code := m.Run()
	if n := pcall.LocksHeldAtRecovery(); n != 0 && code == 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d recovered faults or deadlines found a runplug lock held\n", n)
		code = 1
	}
	os.Exit(code)
}
