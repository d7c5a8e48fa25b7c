package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/runplug/runplug/internal/testenv"
)

const wantOutput = `opened an in-memory database with libsqlite3.so.0
row: name="apple" qty="3"
row: name="fig" qty="12"
row: name="kiwi" qty=""
row: name="pear" qty="7"
qty > 5: [fig=12 pear=7]
exec error message: no such column: nope
as an error: exec: code 1: no such column: nope
closed
`

func sqliteLib(t *testing.T) string {
	lib := findLib("libsqlite3.so.0")
	testenv.NeedFile(t, lib, "libsqlite3-0")
	return lib
}

// TestSQLiteProgram builds the example and runs it.
func TestSQLiteProgram(t *testing.T) {
	lib := sqliteLib(t)
	bin := filepath.Join(t.TempDir(), "sqlite")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if b, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	cmd := exec.Command(bin, lib)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() != 0 {
		t.Fatalf("sqlite: %v, stderr %q", err, stderr.String())
	}
	if string(out) != wantOutput {
		t.Fatalf("output:\n%s\nwant:\n%s", out, wantOutput)
	}
	if err := exec.Command(bin, "a", "b").Run(); err == nil {
		t.Fatal("two arguments accepted")
	} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("usage error: %v, want exit 2", err)
	}
}

// TestSQLiteRun runs the host in process (under -race too).
func TestSQLiteRun(t *testing.T) {
	lib := sqliteLib(t)
	var out bytes.Buffer
	if err := run(lib, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != wantOutput {
		t.Fatalf("output:\n%s\nwant:\n%s", out.String(), wantOutput)
	}
	if err := run(filepath.Join(t.TempDir(), "missing.so"), &out); err == nil {
		t.Fatal("run with a missing library succeeded")
	}
}
