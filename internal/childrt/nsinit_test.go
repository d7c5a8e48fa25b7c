//go:build linux && (amd64 || arm64) && cgo

package childrt

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestEarlyNamespacesNames: nsinit.h and nsinit.go name the variable and
// the orphan's exit status alike, EarlyNamespacesEnv writes what the
// constructor parses, and a process not asked reports nothing. (The
// constructor itself is tested through package isolate:
// TestChildNamespaces, TestNamespacesRefused, TestHostKilledLeavesNoChild.)
func TestEarlyNamespacesNames(t *testing.T) {
	env, orphan, lost := nsinitNames()
	if env != EnvEarlyNamespaces || orphan != ExitOrphan || lost != ExitLost {
		t.Errorf("nsinit.h: %q, %d, %d; nsinit.go: %q, %d, %d", env, orphan, lost, EnvEarlyNamespaces, ExitOrphan, ExitLost)
	}
	name, val, _ := strings.Cut(EarlyNamespacesEnv(0x10000000|0x20000, 42), "=")
	flags, ppid, _ := strings.Cut(val, ":")
	if f, err := strconv.ParseUint(flags, 16, 32); name != EnvEarlyNamespaces || err != nil || f != 0x10020000 || ppid != "42" {
		t.Errorf("EarlyNamespacesEnv = %s=%s", name, val)
	}
	if _, asked := os.LookupEnv(EnvEarlyNamespaces); !asked {
		if f, err := EarlyNamespaces(); f != 0 || err != nil {
			t.Errorf("not asked: EarlyNamespaces() = %#x, %v", f, err)
		}
	}
}

// TestEarlyNamespacesParent: a child asked for (no) early namespaces by a
// parent other than its own ends with ExitOrphan in the constructor,
// before its runtime starts (the check that closes the window before the
// parent-death signal is armed again); asked by its own parent it runs.
func TestEarlyNamespacesParent(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		parent int
		status int
	}{{os.Getpid(), 0}, {1, ExitOrphan}} {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), EarlyNamespacesEnv(0, tt.parent))
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() != tt.status || err != nil && ee == nil || err == nil && tt.status != 0 {
			t.Errorf("asked by parent %d: %v, want exit status %d", tt.parent, err, tt.status)
		}
	}
}

// TestChildConfineName: childinit.h and childinit.go name the variable
// alike, and ChildConfineEnv writes what the constructor parses. (What the
// constructor does is isolate's TestHostile.)
func TestChildConfineName(t *testing.T) {
	if got, base := childinitName(); got != EnvChildConfine || base != ChildIDBase {
		t.Errorf("childinit.h: %q, %#x; childinit.go: %q, %#x", got, base, EnvChildConfine, ChildIDBase)
	}
	if got, want := ChildConfineEnv(3, true), EnvChildConfine+"=3:1"; got != want {
		t.Errorf("ChildConfineEnv = %q, want %q", got, want)
	}
}
