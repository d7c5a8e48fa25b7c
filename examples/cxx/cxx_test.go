package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/testenv"
)

// buildPlugin compiles plugin/shapes.cpp with the command of its own
// "// Build:" line (c++ replaced by $CXX when set, the output put in dir)
// and returns the .so path.
func buildPlugin(t *testing.T, dir string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("plugin", "shapes.cpp"))
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
	if len(args) == 0 || args[0] != "c++" {
		t.Fatalf("shapes.cpp has no Build line starting with c++: %q", args)
	}
	cxx := os.Getenv("CXX")
	if cxx == "" {
		cxx = testenv.LookPath(t, "c++", "apt-get install g++")
	}
	out := filepath.Join(dir, "libshapes.so")
	for i := range args {
		if args[i] == "-o" && i+1 < len(args) {
			args[i+1] = out
		}
	}
	cmd := exec.Command(cxx, args[1:]...)
	cmd.Dir = "plugin"
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", cxx, strings.Join(args[1:], " "), err, b)
	}
	return out
}

func TestCXXExample(t *testing.T) {
	so := buildPlugin(t, t.TempDir())
	var out bytes.Buffer
	specs := []string{"circle 1", "rect 2 3.5", "rect 2", "circle -1", "hexagon 1", "circle x"}
	if err := run(so, specs, &out); err != nil {
		t.Fatal(err)
	}
	want := `circle 1: 3.142
rect 2 3.5: 7.000
rect 2: error: missing height
circle -1: error: radius is negative
hexagon 1: error: unknown shape "hexagon"
circle x: error: stod
`
	if out.String() != want {
		t.Fatalf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
