package main

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
)

// buildPlugin compiles plugin/checked.rs by the command of its own "// Build:"
// line into dir and returns the .so path.
func buildPlugin(t *testing.T, dir string) string {
	t.Helper()
	return plugintest.BuildSource(t, filepath.Join("plugin", "checked.rs"), dir)
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
