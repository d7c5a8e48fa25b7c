// Package testenv decides what a test does when the machine lacks
// something it needs: a tool (g++, rustc, readelf, gdb), a system library,
// a kernel feature.
//
// Locally such a test skips, saying what is missing and what installs it.
// With RUNPLUG_REQUIRE_ALL=1 in the environment (.ci/run sets it, after
// installing everything) the same call fails the test instead, so a green
// CI run means every test ran.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// RequireAllEnv is the environment variable that turns skips into failures.
const RequireAllEnv = "RUNPLUG_REQUIRE_ALL"

// RequireAll reports whether missing prerequisites fail tests.
func RequireAll() bool { return os.Getenv(RequireAllEnv) == "1" }

// Skipf skips the test locally, or fails it under RUNPLUG_REQUIRE_ALL=1,
// with the formatted reason.
func Skipf(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if RequireAll() {
		t.Fatalf("missing prerequisite (%s=1): %s", RequireAllEnv, msg)
	}
	t.Skip(msg)
}

// LookPath returns the path of the named tool, or skips (fails under
// RUNPLUG_REQUIRE_ALL=1) when it is not on PATH. install names what
// provides it, for the message.
func LookPath(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Skipf(t, "%s not found (%s): %v", name, install, err)
	}
	return p
}

// NeedFile skips (fails under RUNPLUG_REQUIRE_ALL=1) when path does not
// exist. install names what provides it.
func NeedFile(t testing.TB, path, install string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		Skipf(t, "%s: %v (%s)", path, err, install)
	}
}
