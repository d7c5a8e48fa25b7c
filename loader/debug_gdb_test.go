package loader

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
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
func TestGDBSeesPlugins(t *testing.T) {
	testenv.NeedNative(t, "gdb with ptrace")
	gdb := testenv.LookPath(t, "gdb", "apt-get install gdb")
	if err := debugreg.DebuggerError(); err != nil {
		testenv.Skipf(t, "%v", err)
	}
	plugin := plugintest.Build(t, "dbg_fn")
	host := buildHost(t, "dbghost")
	leaf, entry := markerLine(t, "dbg_fn", "leaf"), markerLine(t, "dbg_fn", "entry")

	script := filepath.Join(t.TempDir(), "script.gdb")
	// Go programs under gdb: the runtime preempts with SIGURG (turned off
	// too: a preempted goroutine stopped at a breakpoint can report it
	// twice) and the sandbox uses its interrupt signal; neither should
	// stop the run.
	cmds := fmt.Sprintf(`set pagination off
set confirm off
set breakpoint pending on
handle SIGURG nostop noprint pass
handle SIGPIPE nostop noprint pass
handle SIG%d nostop noprint pass
break dbg_init
break dbg_leaf
break main.afterClose
run
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
	if err := os.WriteFile(script, []byte(cmds), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gdb, "-nx", "-batch", "-iex", "set auto-load python-scripts off", "-x", script, "--args", host, plugin)
	cmd.Env = append(os.Environ(), "GODEBUG=asyncpreemptoff=1")
	outb, err := cmd.CombinedOutput()
	out := string(outb)
	if strings.Contains(out, "ptrace: Operation not permitted") {
		testenv.Skipf(t, "gdb may not trace processes here (a container without CAP_SYS_PTRACE?):\n%s", out)
	}
	if err != nil {
		t.Fatalf("gdb: %v\n%s", err, out)
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
