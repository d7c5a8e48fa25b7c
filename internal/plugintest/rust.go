package plugintest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// errRustNotPorted: no rule says which rustc builds Rust plugins for the
// running architecture.
var errRustNotPorted = errors.New("rust test plugins for " + runtime.GOARCH)

// rustTargets are the Rust targets of the architectures whose Rust
// plugins are built by a rustc found by rule rather than by PATH. On
// arm64 that is Debian's rustc with its arm64 standard library
// (libstd-rust-dev:arm64), which cross-compiles on an x86-64 machine and
// builds natively on an arm64 one; rustup's toolchain has no aarch64
// standard library unless it was added, which needs the network.
var rustTargets = map[string]string{"arm64": "aarch64-unknown-linux-gnu"}

// rustPackages names what provides rustc and the standard library for
// the running architecture, for skip messages.
var rustPackages = map[string]string{"amd64": "rustc", "arm64": "rustc libstd-rust-dev:arm64"}[runtime.GOARCH]

// rustCommand returns the rustc that builds Rust plugins for the running
// architecture and the arguments it takes before a Build line's own: on
// amd64, Rustc() and none; on arm64, $RUSTC_ARM64 or else /usr/bin/rustc,
// with --target and the C compiler that links (see compiler) as linker.
// It wraps ErrNoCompiler when that rustc or its standard library for the
// target is not installed.
func rustCommand() (string, []string, error) { return rustCommandFor(runtime.GOARCH) }

func rustCommandFor(goarch string) (string, []string, error) {
	if goarch == "amd64" {
		rustc, err := Rustc()
		return rustc, nil, err
	}
	target, ok := rustTargets[goarch]
	if !ok {
		return "", nil, errRustNotPorted
	}
	rustc := os.Getenv("RUSTC_ARM64")
	if rustc == "" {
		rustc = "/usr/bin/rustc"
	}
	if err := rustStd(rustc, goarch, target); err != nil {
		return "", nil, err
	}
	linker, _, err := compiler("cc")
	if err != nil {
		return "", nil, err
	}
	return rustc, []string{"--target", target, "-C", "linker=" + linker}, nil
}

var rustStdChecked sync.Map // rustc + " " + target -> error (nil when found)

// rustStd reports whether rustc is installed with a standard library for
// target, once per pair.
func rustStd(rustc, goarch, target string) error {
	key := rustc + " " + target
	if v, ok := rustStdChecked.Load(key); ok {
		err, _ := v.(error)
		return err
	}
	err := findRustStd(rustc, goarch, target)
	rustStdChecked.Store(key, err)
	return err
}

func findRustStd(rustc, goarch, target string) error {
	if _, err := exec.LookPath(rustc); err != nil {
		return fmt.Errorf("no rustc for %s at %s ($RUSTC_ARM64, else /usr/bin/rustc): %w", goarch, rustc, ErrNoCompiler)
	}
	out, err := exec.Command(rustc, "--print", "target-libdir", "--target", target).Output()
	if err != nil {
		return fmt.Errorf("%s --print target-libdir --target %s: %v: %w", rustc, target, err, ErrNoCompiler)
	}
	dir := strings.TrimSpace(string(out))
	if m, _ := filepath.Glob(filepath.Join(dir, "libstd-*.rlib")); len(m) == 0 {
		return fmt.Errorf("%s has no standard library for %s in %s: %w", rustc, target, dir, ErrNoCompiler)
	}
	return nil
}

// Rustc returns the rustc to use on amd64: $RUSTC, else rustc on PATH,
// else ~/.cargo/bin/rustc (rustup's). It wraps ErrNoCompiler when there
// is none.
func Rustc() (string, error) {
	if r := os.Getenv("RUSTC"); r != "" {
		return r, nil
	}
	if p, err := exec.LookPath("rustc"); err == nil {
		return p, nil
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cargo", "bin", "rustc")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("rustc not found: %w", ErrNoCompiler)
}

// RsPanicCall is a call of plugins/rust/rs_panic.rs and its result.
type RsPanicCall struct {
	Fn        string
	Arg, Want uint64
}

// RsPanicCalls are calls of rs_panic that return normally, in order on
// one fresh instance, for the tests that run it in process and isolated:
// panics caught by catch_unwind, Drop run for each unwound frame, a
// thread-local of the Rust std counting, and a std::thread with its own
// thread-locals whose destructor has run when join returns.
var RsPanicCalls = []RsPanicCall{
	{"rs_catch", 0, 0},
	{"rs_catch", 5, 47},
	{"rs_drops", 4, 4},
	{"rs_tls_bump", 0, 1}, // once: the next call may run on another thread
	{"rs_thread_tls", 3, 301},
}
