package loader

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestBindGenUpToDate checks that bind_gen.go is what internal/genbind
// writes today (run `go generate ./loader` after changing the generator).
func TestBindGenUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the generator")
	}
	out := filepath.Join(t.TempDir(), "bind_gen.go")
	cmd := exec.Command("go", "run", "../internal/genbind", "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("genbind: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("bind_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("bind_gen.go is stale: run go generate ./loader")
	}
}
