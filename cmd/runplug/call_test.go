package main

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
)

var libz = testenv.SystemLibPath("libz.so.1")

func needLibz(t *testing.T) {
	t.Helper()
	testenv.NeedFile(t, libz, "apt-get install zlib1g")
}

// callOK runs `runplug call ARGS...` and returns its one line of output.
func callOK(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := runCmd(t, append([]string{"call"}, args...)...)
	if code != exitOK || errs != "" {
		t.Fatalf("call %s: exit %d, stderr %q", strings.Join(args, " "), code, errs)
	}
	if strings.Count(out, "\n") != 1 {
		t.Fatalf("call %s: output %q, want one line", strings.Join(args, " "), out)
	}
	return strings.TrimSuffix(out, "\n")
}

// TestCallLibzCRC32 checks crc32 from the system's libz, loaded by
// runplug, against Go's hash/crc32.
func TestCallLibzCRC32(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	needLibz(t)
	r := rand.New(rand.NewSource(2))
	inputs := []string{"hello", "", "The quick brown fox jumps over the lazy dog"}
	for i := 0; i < 3; i++ {
		b := make([]byte, 1+r.Intn(200))
		for j := range b {
			b[j] = byte(' ' + r.Intn(95)) // printable: it goes through argv
		}
		inputs = append(inputs, string(b))
	}
	for _, in := range inputs {
		want := fmt.Sprint(crc32.ChecksumIEEE([]byte(in)))
		got := callOK(t, "--ret", "uint", libz, "crc32", "0", "s:"+in, fmt.Sprint(len(in)))
		if got != want {
			t.Errorf("crc32(%q) = %s, hash/crc32 says %s", in, got, want)
		}
	}
	// The value the issue names, from hash/crc32 rather than a literal.
	if got, want := callOK(t, "--ret", "uint", libz, "crc32", "0", "s:hello", "5"), fmt.Sprint(crc32.ChecksumIEEE([]byte("hello"))); got != want {
		t.Errorf("crc32 0 s:hello 5 = %s, want %s", got, want)
	}
	// hex and int print the same register differently.
	sum := crc32.ChecksumIEEE([]byte("hello"))
	if got := callOK(t, "--ret", "hex", libz, "crc32", "0", "s:hello", "5"); got != fmt.Sprintf("%#x", sum) {
		t.Errorf("--ret hex = %s, want %#x", got, sum)
	}
}

// TestCallLibzVersion checks zlibVersion against the version in the name
// of the file libz.so.1 links to (libz.so.1.2.13) and inside the file.
func TestCallLibzVersion(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	needLibz(t)
	real, err := filepath.EvalSymlinks(libz)
	if err != nil {
		t.Fatal(err)
	}
	want, ok := strings.CutPrefix(filepath.Base(real), "libz.so.")
	if !ok || strings.Count(want, ".") < 2 {
		t.Fatalf("%s: cannot read a version from the name %s (zlib names its file libz.so.X.Y.Z)", libz, real)
	}
	got := callOK(t, "--ret", "str", libz, "zlibVersion")
	if got != want {
		t.Errorf("zlibVersion = %q, the library file is %s", got, filepath.Base(real))
	}
	data, err := os.ReadFile(real)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, append([]byte(got), 0)) {
		t.Errorf("the string %q is not in %s", got, real)
	}
}

// demoCalls are calls into the demo plugin with results the test computes
// in Go.
func demoCalls() []struct {
	args []string
	want string
} {
	fib := func(n int) uint64 {
		a, b := uint64(0), uint64(1)
		for i := 0; i < n; i++ {
			a, b = b, a+b
		}
		return a
	}
	vowels := func(s string) int {
		n := 0
		for _, c := range s {
			if strings.ContainsRune("aeiouAEIOU", c) {
				n++
			}
		}
		return n
	}
	text := "a plugin, loaded by runplug"
	return []struct {
		args []string
		want string
	}{
		{[]string{"--ret", "uint", "fib", "0"}, fmt.Sprint(fib(0))},
		{[]string{"--ret", "uint", "fib", "10"}, fmt.Sprint(fib(10))},
		{[]string{"--ret", "uint", "fib", "93"}, fmt.Sprint(fib(93))},
		{[]string{"--ret", "uint", "fib", "0x10"}, fmt.Sprint(fib(16))},
		{[]string{"--ret", "double", "norm2", "d:3", "d:-4.5"}, fmt.Sprint(3*3 + -4.5*-4.5)},
		{[]string{"vowels", "s:" + text}, fmt.Sprint(vowels(text))},
		{[]string{"vowels", "s:"}, "0"},
		{[]string{"--ret", "str", "fib", "0"}, "(null)"}, // fib(0) returns 0: a NULL char *
		{[]string{"--ret", "void", "next"}, ""},
	}
}

// TestCallDemo calls the embedded demo.so and a freshly compiled one the
// same way: both must give the results computed in Go.
func TestCallDemo(t *testing.T) {
	testenv.NeedPort(t, runtime.GOARCH == "amd64", "the committed demo.so (built for x86-64)")
	emb := filepath.Join(t.TempDir(), "demo.so")
	if err := os.WriteFile(emb, demoSO, 0o644); err != nil {
		t.Fatal(err)
	}
	fresh := plugintest.Build(t, "demo")
	for _, path := range []string{emb, fresh} {
		for _, c := range demoCalls() {
			i := indexSymbol(c.args)
			args := append(append(append([]string{}, c.args[:i]...), path), c.args[i:]...)
			code, out, errs := runCmd(t, append([]string{"call"}, args...)...)
			want := c.want + "\n"
			if c.want == "" {
				want = ""
			}
			if code != exitOK || out != want || errs != "" {
				t.Errorf("call %s: exit %d, stdout %q, stderr %q; want %q", strings.Join(args, " "), code, out, errs, want)
			}
		}
		// The constructor ran: the counter starts at 100.
		if got := callOK(t, path, "next"); got != "101" {
			t.Errorf("%s: next() = %s after load, want 101 (the constructor sets 100)", path, got)
		}
	}
}

// indexSymbol returns the index of the symbol in a demoCalls argument
// list: the first argument after the flags.
func indexSymbol(args []string) int {
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "--") {
		i += 2
	}
	return i
}

// TestCallErrors checks the exit status and the single line on stderr of
// failing calls: 1 for load and lookup errors, 2 for usage, 3 for faults.
func TestCallErrors(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	dir := t.TempDir()
	demo := plugintest.Build(t, "demo")
	ctorFault := plugintest.Build(t, "ctor_fault")
	junk := filepath.Join(dir, "junk.so")
	if err := os.WriteFile(junk, []byte("not an ELF file at all, but long enough to have a header......."), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		code int
		want []string // substrings of the stderr line
	}{
		{[]string{demo, "crash"}, exitFault, []string{"SIGSEGV", "at 0x0", "not mapped", "crash+0x", "demo.so"}},
		{[]string{ctorFault, "ctor_fault_never"}, exitFault, []string{"SIGSEGV", "ctor_fault.so"}},
		{[]string{demo, "no_such_symbol"}, exitError, []string{"no_such_symbol", "symbol not found"}},
		{[]string{demo, "demo_source_sha256"}, exitError, []string{"not a function"}},
		{[]string{filepath.Join(dir, "missing.so"), "f"}, exitError, []string{"missing.so"}},
		{[]string{junk, "f"}, exitError, []string{"junk.so", "elfmap"}},
		{[]string{dir, "f"}, exitError, []string{dir}},
		{[]string{"--ret", "quad", demo, "fib"}, exitUsage, []string{"--ret"}},
		{[]string{demo}, exitUsage, []string{"FILE SYMBOL"}},
		{[]string{demo, "fib", "twelve"}, exitUsage, []string{"argument 1"}},
		{[]string{demo, "fib", "1", "...", "2", "..."}, exitUsage, []string{"argument 4", "a second"}},
		{[]string{"-L", "", demo, "fib"}, exitUsage, []string{"empty directory"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errs := runCmd(t, append([]string{"call"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, errs)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "runplug: call") && !strings.HasPrefix(errs, "runplug: not an ELF shared object: ") {
				t.Errorf("stderr %q, want one line starting with runplug: call (or saying FILE is no ELF shared object)", errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr %q lacks %q", errs, w)
				}
			}
		})
	}
}

// TestCallSearchPath checks -L: dep_a needs dep_b, which it finds next to
// itself through DT_RUNPATH $ORIGIN; moved apart, it needs -L.
func TestCallSearchPath(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	depA := plugintest.Build(t, "dep_a")
	depB := plugintest.Build(t, "dep_b")
	// Next to each other: found through $ORIGIN.
	want := callOK(t, depA, "dep_a_value", "4")

	dirA, dirB := t.TempDir(), t.TempDir()
	for src, dst := range map[string]string{depA: filepath.Join(dirA, "dep_a.so"), depB: filepath.Join(dirB, "dep_b.so")} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	moved := filepath.Join(dirA, "dep_a.so")
	code, _, errs := runCmd(t, "call", moved, "dep_a_value", "4")
	if code != exitError || !strings.Contains(errs, "dep_b.so") || strings.Count(errs, "\n") != 1 {
		t.Errorf("without -L: exit %d, stderr %q; want 1 and one line naming dep_b.so", code, errs)
	}
	if got := callOK(t, "-L", t.TempDir(), "-L", dirB, moved, "dep_a_value", "4"); got != want {
		t.Errorf("with -L: dep_a_value(4) = %s, want %s as when found through $ORIGIN", got, want)
	}
}

// TestCallGeneral reaches the general call from the terminal: more than six
// integers (on the stack), floats, and a variadic call with "...", in
// process and with --isolate (the same results).
func TestCallGeneral(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	testenv.NeedNative(t, "isolated plugins (seccomp filters, user namespaces)")
	ffi := plugintest.Build(t, "ffi_call")
	for _, mode := range [][]string{nil, {"--isolate"}} {
		args := append(append([]string{}, mode...), ffi, "many_ints")
		for i := 1; i <= 16; i++ {
			args = append(args, strconv.Itoa(i))
		}
		if got := callOK(t, args...); got != "1496" { // the sum of k*k, k = 1..16
			t.Errorf("%v many_ints(1..16) = %s, want 1496", mode, got)
		}
		fargs := append(append([]string{}, mode...), "--ret", "float", ffi, "many_f")
		for i := 0; i < 12; i++ {
			fargs = append(fargs, "f:1")
		}
		if got := callOK(t, append(fargs, "f:2.5")...); got != "110.5" { // 78 + 13*2.5
			t.Errorf("%v many_f = %s, want 110.5", mode, got)
		}
		// float_va(unsigned n, double y, ...): n + y + the i-th double times i+2.
		if got := callOK(t, append(append([]string{}, mode...), "--ret", "double", ffi, "float_va", "3", "d:1", "...", "d:1.5", "d:2.5", "d:3.5")...); got != "28.5" {
			t.Errorf("%v float_va = %s, want 28.5", mode, got)
		}
		// fmt_str(NULL, 0, format, ...) returns the length it would write:
		// strings in the fixed and the variable part.
		if got := callOK(t, append(append([]string{}, mode...), ffi, "fmt_str", "0", "0", "s:%d %s", "...", "42", "s:across")...); got != "9" {
			t.Errorf("%v fmt_str = %s, want 9", mode, got)
		}
	}
}
