package loader

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
	"github.com/runplug/runplug/sandbox"
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

// TestGDBSeesPlugins runs a host program under gdb in batch mode: a
// breakpoint set by name before the plugin is loaded is hit, bt names the
// plugin's functions with file:line from its DWARF, info sharedlibrary
// lists the plugin while it is loaded (symbols read) and not after Close.
func TestGDBSeesPlugins(t *testing.T) {
	gdb := testenv.LookPath(t, "gdb", "apt-get install gdb")
	if err := sandbox.DebuggerError(); err != nil {
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
break dbg_leaf
break main.afterClose
run
echo @@BT\n
bt 2
echo @@LIBS\n
info sharedlibrary
echo @@CONT\n
continue
echo @@AFTER\n
info sharedlibrary
echo @@END\n
kill
`, int(sandbox.InterruptSignal))
	if err := os.WriteFile(script, []byte(cmds), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gdb, "-nx", "-batch", "-iex", "set auto-load python-scripts off", "-x", script, "--args", host, plugin)
	cmd.Env = append(os.Environ(), "GODEBUG=asyncpreemptoff=1")
	outb, err := cmd.CombinedOutput()
	out := string(outb)
	if err != nil {
		t.Fatalf("gdb: %v\n%s", err, out)
	}
	section := func(from, to string) string {
		i, j := strings.Index(out, from), strings.Index(out, to)
		if i < 0 || j < i {
			t.Fatalf("gdb output lacks %s ... %s:\n%s", from, to, out)
		}
		return out[i:j]
	}
	if !strings.Contains(section("", "@@BT"), "Breakpoint 1, dbg_leaf (x=21)") {
		t.Errorf("the pending breakpoint on dbg_leaf was not hit:\n%s", out)
	}
	bt := section("@@BT", "@@LIBS")
	for _, want := range []string{
		fmt.Sprintf(`#0 +dbg_leaf \(x=21\) at \S*dbg_fn\.c:%d\n`, leaf),
		fmt.Sprintf(`#1 +0x[0-9a-f]+ in dbg_entry \(.*\) at \S*dbg_fn\.c:%d\n`, entry),
	} {
		if !regexp.MustCompile(want).MatchString(bt) {
			t.Errorf("bt does not match %q:\n%s", want, bt)
		}
	}
	libRe := regexp.MustCompile(`(?m)^0x[0-9a-f]+\s+0x[0-9a-f]+\s+Yes\s+` + regexp.QuoteMeta(plugin) + `$`)
	if libs := section("@@LIBS", "@@CONT"); !libRe.MatchString(libs) {
		t.Errorf("info sharedlibrary does not list %s with its symbols:\n%s", plugin, libs)
	}
	after := section("@@AFTER", "@@END")
	if !strings.Contains(after, "libc.so.6") {
		t.Errorf("info sharedlibrary after Close lost the host's libraries:\n%s", after)
	}
	if strings.Contains(after, plugin) {
		t.Errorf("info sharedlibrary still lists %s after Close:\n%s", plugin, after)
	}
	if !strings.Contains(out, "dbg_entry(20) = 64") {
		t.Errorf("the host's call did not complete under gdb:\n%s", out)
	}
}
