package main

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
)

// buildPlugin compiles plugin/shapes.cpp by the command of its own "// Build:"
// line into dir and returns the .so path.
func buildPlugin(t *testing.T, dir string) string {
	t.Helper()
	return plugintest.BuildSource(t, filepath.Join("plugin", "shapes.cpp"), dir)
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
