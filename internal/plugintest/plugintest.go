// Package plugintest compiles the test plugins in plugins/ for tests: C
// (plugins/NAME.c), C++ (plugins/NAME.cpp) and Rust (plugins/rust/NAME.rs,
// a single-file cdylib built by plain rustc, no crates).
//
// Every source starts with a comment that gives its exact build command
// on a line of its own:
//
//	// Build: cc -shared -fPIC -O2 -o NAME.so NAME.c
//	// Build: c++ -shared -fPIC -O2 -o NAME.so NAME.cpp
//	// Build: rustc --crate-type cdylib -O -o libNAME.so NAME.rs
//
// and, when it links against other test plugins, a line naming them:
//
//	// Needs: dep_a dep_b
//
// Build runs that very command, with cc replaced by `go env CC` (c++ by
// $CXX, else c++; rustc by $RUSTC, else rustc on PATH, else
// ~/.cargo/bin/rustc), the source and output paths made absolute, and -L.
// pointing at the output directory, so the header comment is always the
// truth. On arm64 without $CC/$CXX, the cross compilers
// aarch64-linux-gnu-gcc and -g++ are preferred when installed (the arm64
// CI job runs the tests under qemu-user on an x86-64 machine; on an arm64
// machine they are the native compilers). Rust plugins for arm64 are
// built by $RUSTC_ARM64, else /usr/bin/rustc (Debian's, with
// libstd-rust-dev:arm64), with "--target aarch64-unknown-linux-gnu -C
// linker=CC" put before the Build line's arguments. A compiler the machine lacks makes Build skip the test through
// internal/testenv (a failure under RUNPLUG_REQUIRE_ALL=1). Outputs are cached by the hash
// of the command and the source under the user's cache directory, so the
// compiler runs once per change, not once per test.
package plugintest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/runplug/runplug/internal/testenv"
)

// ErrNoCompiler is wrapped by BuildErr's error when the compiler a
// plugin's Build line names is not installed.
var ErrNoCompiler = errors.New("plugintest: compiler not installed")

var (
	mu    sync.Mutex
	built = map[string]string{} // plugin name -> path of the built .so
)

// Dir returns the absolute path of the repository's plugins/ directory.
func Dir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("plugintest: cannot locate source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "plugins")
}

// Build compiles plugins/NAME.c (and the plugins it needs) and returns the
// path of the shared object. It fails the test when the compiler fails.
func Build(t testing.TB, name string) string {
	t.Helper()
	path, err := BuildErr(name)
	if errors.Is(err, errRustNotPorted) {
		testenv.NeedPort(t, false, err.Error())
	}
	if errors.Is(err, ErrNoCompiler) {
		testenv.Skipf(t, "%v (apt-get install g++ %s)", err, rustPackages)
	}
	if err != nil {
		t.Fatalf("plugintest: %v", err)
	}
	return path
}

// BuildErr is Build for callers without a testing.TB (benchmarks' setup,
// example programs, fuzz seed generators).
func BuildErr(name string) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	return buildLocked(name, map[string]bool{})
}

func buildLocked(name string, visiting map[string]bool) (string, error) {
	if p, ok := built[name]; ok {
		return p, nil
	}
	if visiting[name] {
		return "", fmt.Errorf("plugin %s: Needs lines form a cycle", name)
	}
	visiting[name] = true
	src, err := sourceOf(name)
	if err != nil {
		return "", err
	}
	source, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	tool, args, needs, err := header(name, source)
	if err != nil {
		return "", err
	}
	outDir, err := cacheDir()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	cc, pre, err := compiler(tool)
	if err != nil {
		return "", fmt.Errorf("plugin %s: %w", name, err)
	}
	args = append(pre, args...)
	fmt.Fprintf(h, "%s\x00%q\x00", cc, args)
	h.Write(source)
	for _, dep := range needs {
		depPath, err := buildLocked(dep, visiting)
		if err != nil {
			return "", fmt.Errorf("plugin %s needs %s: %w", name, dep, err)
		}
		depBytes, err := os.ReadFile(depPath)
		if err != nil {
			return "", err
		}
		h.Write(depBytes)
	}
	// Sibling headers may be included by any plugin, and a Rust
	// plugin may include! the files beside it (plugins/rust/runplug.rs).
	hdrs, _ := filepath.Glob(filepath.Join(Dir(), "*.h"))
	if strings.HasSuffix(src, ".rs") {
		rs, _ := filepath.Glob(filepath.Join(filepath.Dir(src), "*.rs"))
		hdrs = append(hdrs, rs...)
	}
	if len(hdrs) > 0 {
		for _, hdr := range hdrs {
			b, err := os.ReadFile(hdr)
			if err != nil {
				return "", err
			}
			h.Write(b)
		}
	}
	sum := hex.EncodeToString(h.Sum(nil))[:16]

	// Each build lives in a directory named for its hash; the .so keeps
	// the file name its command gives so that DT_NEEDED entries and
	// -l flags between plugins line up. Dependencies are linked into the
	// same directory.
	dir := filepath.Join(outDir, name+"-"+sum)
	out := ""
	for i, a := range args {
		if i > 0 && args[i-1] == "-o" {
			out = filepath.Join(dir, a)
		}
	}
	if out == "" {
		return "", fmt.Errorf("plugin %s: Build line has no -o", name)
	}
	if _, err := os.Stat(out); err == nil {
		built[name] = out
		return out, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for _, dep := range needs {
		depPath := built[dep]
		dst := filepath.Join(dir, filepath.Base(depPath))
		if err := copyFile(depPath, dst); err != nil {
			return "", err
		}
	}
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmdArgs := make([]string, 0, len(args))
	for i, a := range args {
		switch {
		case i > 0 && args[i-1] == "-o":
			a = filepath.Join(tmp, a)
		case strings.HasSuffix(a, ".c") || strings.HasSuffix(a, ".cpp") || strings.HasSuffix(a, ".rs"):
			a = filepath.Join(filepath.Dir(src), a)
		case a == "-L.":
			a = "-L" + dir
		case strings.HasPrefix(a, "-I") && !filepath.IsAbs(a[2:]):
			a = "-I" + filepath.Join(Dir(), a[2:])
		}
		cmdArgs = append(cmdArgs, a)
	}
	cmd := exec.Command(cc, cmdArgs...)
	cmd.Dir = filepath.Dir(src)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build plugin %s: %s %s: %v\n%s", name, cc, strings.Join(cmdArgs, " "), err, msg)
	}
	// Write the object back before use: until then its page-cache pages
	// are dirty, and /proc/PID/smaps reports a mapping of a just-built
	// plugin as dirty rather than clean and shared.
	if err := syncFile(filepath.Join(tmp, filepath.Base(out))); err != nil {
		return "", err
	}
	// Rename into place so that concurrent test binaries never see a
	// half-written object.
	if err := os.Rename(filepath.Join(tmp, filepath.Base(out)), out); err != nil {
		return "", err
	}
	built[name] = out
	return out, nil
}

// sourceOf returns the source of plugin name: plugins/NAME.c,
// plugins/NAME.cpp or plugins/rust/NAME.rs.
func sourceOf(name string) (string, error) {
	for _, p := range []string{name + ".c", name + ".cpp", filepath.Join("rust", name+".rs")} {
		path := filepath.Join(Dir(), p)
		if _, err := os.Stat(path); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("plugin %s: no plugins/%s.c, .cpp or rust/%s.rs", name, name, name)
}

// header reads the Build and Needs lines of a plugin's leading comment:
// the tool (cc, c++ or rustc), its arguments and the plugins it needs.
func header(name string, source []byte) (tool string, args, needs []string, err error) {
	sc := bufio.NewScanner(bytes.NewReader(source))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "//!") || strings.HasPrefix(line, "#![") {
			continue // Rust inner doc comments and attributes may come first
		}
		if !strings.HasPrefix(line, "//") {
			break
		}
		line = strings.TrimSpace(strings.TrimPrefix(line, "//"))
		switch {
		case strings.HasPrefix(line, "Build:"):
			f := strings.Fields(strings.TrimPrefix(line, "Build:"))
			if len(f) < 2 || (f[0] != "cc" && f[0] != "c++" && f[0] != "rustc") {
				return "", nil, nil, fmt.Errorf("plugin %s: Build line must start with cc, c++ or rustc", name)
			}
			tool, args = f[0], f[1:]
		case strings.HasPrefix(line, "Needs:"):
			needs = strings.Fields(strings.TrimPrefix(line, "Needs:"))
		}
	}
	if args == nil {
		return "", nil, nil, fmt.Errorf("plugin %s: no '// Build: cc ...' line in its leading comment", name)
	}
	return tool, args, needs, nil
}

// crossPrefix is the prefix of the GNU cross compilers for the running
// architecture, tried before cc and c++ when $CC or $CXX is not set.
var crossPrefix = map[string]string{"arm64": "aarch64-linux-gnu-"}[runtime.GOARCH]

// compiler returns the command that runs tool (see the package doc) and
// the arguments it takes before the Build line's own.
func compiler(tool string) (string, []string, error) {
	cross := func(name string) (string, bool) {
		if crossPrefix == "" {
			return "", false
		}
		p, err := exec.LookPath(crossPrefix + name)
		return p, err == nil
	}
	switch tool {
	case "c++":
		if cxx := os.Getenv("CXX"); cxx != "" {
			return cxx, nil, nil
		}
		if p, ok := cross("g++"); ok {
			return p, nil, nil
		}
		if p, err := exec.LookPath("c++"); err == nil {
			return p, nil, nil
		}
		return "", nil, fmt.Errorf("c++ not found: %w", ErrNoCompiler)
	case "rustc":
		return rustCommand()
	}
	if cc := os.Getenv("CC"); cc != "" {
		return cc, nil, nil
	}
	if p, ok := cross("gcc"); ok {
		return p, nil, nil
	}
	out, err := exec.Command("go", "env", "CC").Output()
	if err == nil {
		if cc := strings.TrimSpace(string(out)); cc != "" {
			return cc, nil, nil
		}
	}
	return "cc", nil, nil
}

func cacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "runplug-test-plugins")
	return dir, os.MkdirAll(dir, 0o755)
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o755); err != nil {
		return err
	}
	if err := syncFile(tmp); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// BuildSource compiles the source file src (a plugin kept outside
// plugins/, such as an example's) by the command of its own "// Build:"
// line, with the tool found as Build finds it, run in src's directory,
// and the output put in dir under the name the line gives. It returns
// the path of the shared object. No cache: examples build once per test.
// A missing compiler skips the test (fails it under RUNPLUG_REQUIRE_ALL=1).
func BuildSource(t testing.TB, src, dir string) string {
	t.Helper()
	source, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tool, args, _, err := header(filepath.Base(src), source)
	if err != nil {
		t.Fatal(err)
	}
	cc, pre, err := compiler(tool)
	if errors.Is(err, errRustNotPorted) {
		testenv.NeedPort(t, false, err.Error())
	}
	if errors.Is(err, ErrNoCompiler) {
		testenv.Skipf(t, "%v (apt-get install g++ %s; .ci/run installs them)", err, rustPackages)
	}
	if err != nil {
		t.Fatal(err)
	}
	out := ""
	for i := range args {
		if i > 0 && args[i-1] == "-o" {
			out = filepath.Join(dir, filepath.Base(args[i]))
			args[i] = out
		}
	}
	if out == "" {
		t.Fatalf("%s: Build line has no -o", src)
	}
	args = append(pre, args...)
	cmd := exec.Command(cc, args...)
	cmd.Dir = filepath.Dir(src)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", cc, strings.Join(args, " "), err, b)
	}
	return out
}

// CC returns the C compiler Build uses for cc lines (see the package doc),
// for tests that compile a program of their own.
func CC(t testing.TB) string {
	t.Helper()
	cc, _, err := compiler("cc")
	if err != nil {
		t.Fatal(err)
	}
	return cc
}
