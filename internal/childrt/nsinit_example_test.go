//go:build linux

package childrt_test

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/childrt"
)

// A program that starts itself again in new user and mount namespaces
// without copying itself at the fork: the child's constructor makes them
// before its Go runtime starts, and the child asks what it got.
func ExampleEarlyNamespacesEnv() {
	if os.Getenv("EXAMPLE_CHILD") != "" {
		flags, err := childrt.EarlyNamespaces()
		fmt.Printf("namespaces %#x, %v\n", flags, err) // err: why not, e.g. EPERM
		os.Exit(0)
	}
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(os.Environ(), "EXAMPLE_CHILD=1",
		childrt.EarlyNamespacesEnv(unix.CLONE_NEWUSER|unix.CLONE_NEWNS, os.Getpid()))
	// No Cloneflags: os/exec vforks. The constructor arms this signal
	// again after entering the user namespace.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stdout = os.Stdout
	if err := cmd.Run(); err != nil {
		fmt.Println(err)
	}
}
