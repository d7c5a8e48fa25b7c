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
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
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

// portsUnderWay are the architectures whose port is not complete yet
// (issue 24: linux/arm64): a feature missing there is expected, not a
// broken machine.
var portsUnderWay = map[string]bool{"arm64": true}

// NeedPort skips the test when this build lacks feature because the
// running architecture's port has not reached it yet, saying so and naming
// issue 24; such a skip stays a skip under RUNPLUG_REQUIRE_ALL=1, so that
// the arm64 CI job runs what is ported and lists what is not. ported is
// the package's own answer (pcall.Supported and the like), never a guess
// made here. On an architecture not being ported (amd64) a missing
// feature is a broken build: Skipf, a failure in CI.
func NeedPort(t testing.TB, ported bool, feature string) {
	t.Helper()
	if ported {
		return
	}
	if portsUnderWay[runtime.GOARCH] {
		t.Skipf("%s: not ported to %s/%s yet (issue 24)", feature, runtime.GOOS, runtime.GOARCH)
	}
	Skipf(t, "%s: not supported by this build (%s/%s)", feature, runtime.GOOS, runtime.GOARCH)
}

// multiarch is Debian's multiarch triplet of the running architecture
// (ldso.Multiarch; not imported, since ldso's own tests use this package).
var multiarch = map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}[runtime.GOARCH]

// SystemLib returns the path of the distribution library file name
// (libz.so.1) of the running architecture, /lib/TRIPLET/NAME, and skips
// (fails under RUNPLUG_REQUIRE_ALL=1) when it is not installed; pkg names
// the Debian package that installs it.
func SystemLib(t testing.TB, name, pkg string) string {
	t.Helper()
	p := SystemLibPath(name)
	NeedFile(t, p, pkg)
	return p
}

// SystemLibPath is the path SystemLib checks, for tables built before a
// test runs.
func SystemLibPath(name string) string { return "/lib/" + multiarch + "/" + name }

// Emulated reports whether this process runs under a user-mode emulator
// (qemu-user, as the arm64 CI job runs on x86-64): the machine's own
// programs (/bin/sh) are built for another architecture than this one.
// Such a machine's ld.so.cache, ldconfig and kernel are the host's, and
// qemu-user lacks seccomp, user namespaces, ptrace and signals 63 and 64.
func Emulated() bool { return emulated() }

var emulated = sync.OnceValue(func() bool {
	f, err := elf.Open("/bin/sh")
	if err != nil {
		return false
	}
	defer f.Close()
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]
	return want != elf.EM_NONE && f.Machine != want
})

// NeedNative skips the test under a user-mode emulator (Emulated), even
// under RUNPLUG_REQUIRE_ALL=1: what names what it needs of a native
// machine (its own ld.so.cache, seccomp, ...), for the message.
func NeedNative(t testing.TB, what string) {
	t.Helper()
	if Emulated() {
		t.Skipf("%s: not available under qemu-user; needs a native %s machine (issue 24)", what, runtime.GOARCH)
	}
}
