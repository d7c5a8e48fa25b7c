package loader

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/debugreg"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
)

// markerLine returns the 1-based line of plugins/NAME.c that carries the
// comment "// LINE:tag".
func markerLine(t *testing.T, name, tag string) int {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(plugintest.Dir(), name+".c"))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(src))
	for n := 1; sc.Scan(); n++ {
		if strings.HasSuffix(sc.Text(), "// LINE:"+tag) {
			return n
		}
	}
	t.Fatalf("plugins/%s.c has no // LINE:%s", name, tag)
	return 0
}

// buildHost builds the Go program testdata/NAME into a temporary
// directory and returns its path.
func buildHost(t *testing.T, name string) string {
	t.Helper()
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	out := filepath.Join(t.TempDir(), name)
	cmd := exec.Command(goTool, "build", "-o", out, "./testdata/"+name)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./testdata/%s: %v\n%s", name, err, b)
	}
	return out
}

// TestGDBSeesPlugins runs a host program under gdb in batch mode:
// breakpoints set by name before the plugin is loaded are hit in each of
// its instances, in its constructor (the object is shown to gdb before
// its code runs) and in a function it calls; bt names the plugin's
// functions with file:line from its DWARF; info sharedlibrary lists both
// instances while they are loaded (symbols read), one after the first
// Close and none after the second; a third load, into the parked image of
// the second instance where gdb had written a breakpoint, runs correctly.
// Under qemu-user, which has no ptrace, gdb-multiarch attaches to qemu's
// gdb stub instead (gdbUnderQemu): the same script and checks.
func TestGDBSeesPlugins(t *testing.T) {
	if err := debugreg.DebuggerError(); err != nil {
		testenv.Skipf(t, "%v", err)
	}
	plugin := plugintest.Build(t, "dbg_fn")
	host := buildHost(t, "dbghost")
	leaf, entry := markerLine(t, "dbg_fn", "leaf"), markerLine(t, "dbg_fn", "entry")

	// Go programs under gdb: the runtime preempts with SIGURG (turned off
	// too: a preempted goroutine stopped at a breakpoint can report it
	// twice) and the sandbox uses its interrupt signal; neither should
	// stop the run. %s starts the program.
	cmds := fmt.Sprintf(`set pagination off
set confirm off
set breakpoint pending on
handle SIGURG nostop noprint pass
handle SIGPIPE nostop noprint pass
handle SIG%d nostop noprint pass
break dbg_init
break dbg_leaf
break main.afterClose
%%s
echo @@INIT1\n
continue
echo @@INIT2\n
continue
echo @@BT1\n
bt 2
echo @@LIBS2\n
info sharedlibrary
echo @@CONT\n
continue
echo @@BT2\n
bt 2
echo @@CONT\n
continue
echo @@LIBS1\n
info sharedlibrary
echo @@CONT\n
continue
echo @@LIBS0\n
info sharedlibrary
echo @@RELOAD\n
continue
continue
continue
echo @@END\n
kill
`, int(pcall.InterruptSignal))
	var out string
	if testenv.Emulated() {
		out = gdbUnderQemu(t, host, plugin, cmds)
	} else {
		out = gdbNative(t, host, plugin, cmds)
	}
	// section returns the output between marker from and the next one.
	section := func(from string) string {
		i := strings.Index(out, from)
		if i < 0 {
			t.Fatalf("gdb output lacks %s:\n%s", from, out)
		}
		rest := out[i+len(from):]
		if j := strings.Index(rest, "@@"); j >= 0 {
			rest = rest[:j]
		}
		return rest
	}
	initRe := regexp.MustCompile(fmt.Sprintf(`hit Breakpoint 1(\.\d)?, dbg_init \(\) at \S*dbg_fn\.c:%d\n`, markerLine(t, "dbg_fn", "init")))
	if n := len(initRe.FindAllString(out, -1)); n != 3 {
		t.Errorf("the pending breakpoint on the constructor dbg_init was hit %d times, want once per load (3):\n%s", n, out)
	}
	if n := strings.Count(out, "hit Breakpoint 2"); n != 3 {
		t.Errorf("the pending breakpoint on dbg_leaf was hit %d times, want once per instance (3):\n%s", n, out)
	}
	// The third load reused the second instance's parked image, whose
	// code held gdb's breakpoint: runplug dropped that write at Close.
	if !strings.Contains(out, "reused: true") {
		t.Errorf("the third load did not reuse the parked image (the host's tombstone budget is off):\n%s", out)
	}
	if strings.Contains(out, "SIGSEGV") || strings.Contains(out, "SIGTRAP") || !strings.Contains(out, "instance 2: dbg_entry(20) = 64") {
		t.Errorf("the call into the reused image failed under gdb:\n%s", out)
	}
	for _, bt := range []string{section("@@BT1"), section("@@BT2")} {
		for _, want := range []string{
			fmt.Sprintf(`#0 +dbg_leaf \(x=21\) at \S*dbg_fn\.c:%d\n`, leaf),
			fmt.Sprintf(`#1 +0x[0-9a-f]+ in dbg_entry \(.*\) at \S*dbg_fn\.c:%d\n`, entry),
		} {
			if !regexp.MustCompile(want).MatchString(bt) {
				t.Errorf("bt does not match %q:\n%s", want, bt)
			}
		}
	}
	libRe := regexp.MustCompile(`(?m)^0x[0-9a-f]+\s+0x[0-9a-f]+\s+Yes\s+` + regexp.QuoteMeta(plugin) + `$`)
	for _, c := range []struct {
		marker string
		want   int
	}{{"@@LIBS2", 2}, {"@@LIBS1", 1}, {"@@LIBS0", 0}} {
		libs := section(c.marker)
		if !strings.Contains(libs, "libc.so.6") {
			t.Errorf("%s: info sharedlibrary lacks the host's libraries:\n%s", c.marker, libs)
		}
		if got := len(libRe.FindAllString(libs, -1)); got != c.want || strings.Count(libs, plugin) != c.want {
			t.Errorf("%s: info sharedlibrary lists %d instances of %s with symbols, want %d:\n%s", c.marker, got, plugin, c.want, libs)
		}
	}
	for i := 0; i < 3; i++ {
		if want := fmt.Sprintf("instance %d: dbg_entry(20) = 64", i); !strings.Contains(out, want) {
			t.Errorf("the host's output lacks %q:\n%s", want, out)
		}
	}
}

// gdbNative runs host with plugin under gdb, with script (whose %s
// becomes the command that starts the program), and returns gdb's
// output, the program's included.
func gdbNative(t *testing.T, host, plugin, script string) string {
	t.Helper()
	gdb := testenv.LookPath(t, "gdb", "apt-get install gdb")
	cmd := exec.Command(gdb, "-nx", "-batch", "-iex", "set auto-load python-scripts off", "-x", writeScript(t, fmt.Sprintf(script, "run")), "--args", host, plugin)
	cmd.Env = append(os.Environ(), "GODEBUG=asyncpreemptoff=1")
	outb, err := cmd.CombinedOutput()
	out := string(outb)
	if strings.Contains(out, "ptrace: Operation not permitted") {
		testenv.Skipf(t, "gdb may not trace processes here (a container without CAP_SYS_PTRACE?):\n%s", out)
	}
	if err != nil {
		t.Fatalf("gdb: %v\n%s", err, out)
	}
	return out
}

// gdbUnderQemu is gdbNative for a machine that runs this architecture
// under qemu-user, which has no ptrace: qemu runs host with its gdb stub
// on a local port (it waits for the debugger before the first
// instruction), and gdb-multiarch attaches to it (gdb retries the
// connection until qemu listens, up to its tcp connect-timeout) and ends
// it with the script's kill. It returns gdb's output and then the
// program's.
func gdbUnderQemu(t *testing.T, host, plugin, script string) string {
	t.Helper()
	qemu := testenv.LookPath(t, "qemu-"+map[string]string{"arm64": "aarch64"}[runtime.GOARCH]+"-static", "apt-get install qemu-user-static")
	gdb := testenv.LookPath(t, "gdb-multiarch", "apt-get install gdb-multiarch")
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a free port for qemu's stub
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var hostOut bytes.Buffer
	prog := exec.Command(qemu, "-g", fmt.Sprint(port), host, plugin)
	prog.Env = append(os.Environ(), "GODEBUG=asyncpreemptoff=1")
	prog.Stdout, prog.Stderr = &hostOut, &hostOut
	if err := prog.Start(); err != nil {
		t.Fatal(err)
	}
	defer prog.Process.Kill() // if gdb failed before its kill
	attach := fmt.Sprintf("set sysroot /\ntarget remote 127.0.0.1:%d\ncontinue", port)
	cmd := exec.Command(gdb, "-nx", "-batch", "-iex", "set auto-load python-scripts off", "-x", writeScript(t, fmt.Sprintf(script, attach)), host)
	outb, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("gdb-multiarch: %v\n%s", err, outb)
	}
	prog.Wait() // ended by gdb's kill: its status says nothing
	return string(outb) + hostOut.String()
}

// writeScript writes a gdb script into a temporary file and returns its
// path.
func writeScript(t *testing.T, script string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "script.gdb")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// registeredNames returns the names of the objects registered with
// debuggers and profilers.
func registeredNames() map[string]int {
	debugMu.Lock()
	defer debugMu.Unlock()
	names := map[string]int{}
	for o := range debugRegs {
		names[o.name]++
	}
	return names
}

// TestDebugRegistersDependencies: a plugin's dependencies are shown to
// debuggers with it, and taken off when the last plugin holding them
// closes; a failed load leaves nothing registered.
func TestDebugRegistersDependencies(t *testing.T) {
	l := newLoader(t, Options{})
	before := registeredNames()
	p := load(t, l, "dep_a")
	got := registeredNames()
	for _, n := range []string{"dep_a.so", "dep_b.so"} {
		if got[n] != before[n]+1 {
			t.Errorf("%s registered %d times, want %d: %v", n, got[n], before[n]+1, got)
		}
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if after := registeredNames(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("after Close: %v, want %v", after, before)
	}
	if _, err := l.Load(context.Background(), plugintest.Build(t, "ctor_fault")); err == nil {
		t.Fatal("ctor_fault loaded")
	}
	if after := registeredNames(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("after a failed load: %v, want %v", after, before)
	}
}
