package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
)

// buildPlugin compiles plugin/checked.rs with the command of its own
// "// Build:" line (rustc found as internal/plugintest does: $RUSTC, PATH,
// ~/.cargo/bin; the output put in dir) and returns the .so path.
func buildPlugin(t *testing.T, dir string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("plugin", "checked.rs"))
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "// Build: "); ok {
			args = strings.Fields(rest)
			break
		}
	}
	if len(args) == 0 || args[0] != "rustc" {
		t.Fatalf("checked.rs has no Build line starting with rustc: %q", args)
	}
	rustc, err := plugintest.Rustc()
	if err != nil {
		testenv.Skipf(t, "%v (apt-get install rustc)", err)
	}
	out := filepath.Join(dir, "libchecked.so")
	for i := range args {
		if args[i] == "-o" && i+1 < len(args) {
			args[i+1] = out
		}
	}
	cmd := exec.Command(rustc, args[1:]...)
	cmd.Dir = "plugin"
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", rustc, strings.Join(args[1:], " "), err, b)
	}
	return out
}

func TestRustExample(t *testing.T) {
	so := buildPlugin(t, t.TempDir())
	var out bytes.Buffer
	if err := run(so, []string{"1,2,3", "10, 20, x", "-4,4"}, &out); err != nil {
		t.Fatal(err)
	}
	want := `"1,2,3": sum 6, sum/len 1
"10, 20, x": not a list of integers
"-4,4": sum 0, sum/len 0
1/0 caught: true
always_panics failed, quarantined: true
`
	if out.String() != want {
		t.Fatalf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
