package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
)

// buildPlugin compiles plugin/kvplugin.c by the command of its own "// Build:"
// line into dir and returns the .so path.
func buildPlugin(t *testing.T, dir string) string {
	t.Helper()
	return plugintest.BuildSource(t, filepath.Join("plugin", "kvplugin.c"), dir)
}

func goTool() string { return filepath.Join(runtime.GOROOT(), "bin", "go") }

func goEnv(t *testing.T, name string) string {
	t.Helper()
	b, err := exec.Command(goTool(), "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		v = "cc"
	}
	return v
}

var texts = []string{"The quick brown fox", "jumps over the lazy dog; THE end."}

const wantOutput = `loaded kvplugin.so
plugin debug: new word "the"
plugin debug: new word "quick"
plugin debug: new word "brown"
plugin debug: new word "fox"
plugin info: counted 4 words
"The quick brown fox": 4 words
plugin debug: new word "jumps"
plugin debug: new word "over"
plugin debug: new word "lazy"
plugin debug: new word "dog"
plugin debug: new word "end"
plugin info: counted 7 words
"jumps over the lazy dog; THE end.": 7 words
the plugin counts 3 x "the"
store (9 keys):
  brown = 1
  dog = 1
  end = 1
  fox = 1
  jumps = 1
  lazy = 1
  over = 1
  quick = 1
  the = 3
`

// TestKVStoreProgram builds the plugin and the host program and runs it.
func TestKVStoreProgram(t *testing.T) {
	dir := t.TempDir()
	so := buildPlugin(t, dir)
	bin := filepath.Join(dir, "kvstore")
	if b, err := exec.Command(goTool(), "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	cmd := exec.Command(bin, append([]string{so}, texts...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() != 0 {
		t.Fatalf("kvstore: %v, stderr %q", err, stderr.String())
	}
	if string(out) != wantOutput {
		t.Fatalf("output:\n%s\nwant:\n%s", out, wantOutput)
	}
	// Usage errors exit 2.
	if err := exec.Command(bin).Run(); err == nil || cmd.ProcessState == nil {
		t.Fatal("kvstore without arguments succeeded")
	} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("kvstore without arguments: %v, want exit 2", err)
	}
}

// TestKVStoreRun runs the host in process (under -race too).
func TestKVStoreRun(t *testing.T) {
	so := buildPlugin(t, t.TempDir())
	var out bytes.Buffer
	if err := run(so, texts, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != wantOutput {
		t.Fatalf("output:\n%s\nwant:\n%s", out.String(), wantOutput)
	}
	if err := run(filepath.Join(t.TempDir(), "missing.so"), texts, &out); err == nil {
		t.Fatal("run with a missing plugin succeeded")
	}
}
