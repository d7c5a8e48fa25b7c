package elfimage

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/runplug/runplug/internal/elfbuild"
	"github.com/runplug/runplug/internal/plugintest"
)

// TestExecutableRefused: an executable is refused as such (ErrExecutable,
// which is also ErrUnsupported), whether position-dependent or a PIE; a
// shared object with a PT_INTERP (as libc.so.6 has) is not an executable.
func TestExecutableRefused(t *testing.T) {
	build := func(spec elfbuild.Spec) []byte {
		o, err := elfbuild.Build(spec)
		if err != nil {
			t.Fatal(err)
		}
		return o.Data
	}
	exe := build(elfbuild.Spec{})
	le.PutUint16(exe[16:], uint16(elf.ET_EXEC))
	tests := []struct {
		name  string
		data  []byte
		field string
	}{
		{"ET_EXEC", exe, "e_type"},
		{"PIE", build(elfbuild.Spec{Interp: "/lib64/ld-linux-x86-64.so.2", Flags1: elf.DF_1_PIE | elf.DF_1_NOW}), "DT_FLAGS_1"},
		{"shared object with PT_INTERP", build(elfbuild.Spec{Interp: "/lib64/ld-linux-x86-64.so.2", Syms: []elfbuild.Sym{{Name: "f"}}}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(bytes.NewReader(tt.data), int64(len(tt.data)))
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var fe *FormatError
			if !errors.Is(err, ErrExecutable) || !errors.Is(err, ErrUnsupported) || !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("err = %v, want ErrExecutable on %s", err, tt.field)
			}
		})
	}
}

// TestRealPIERefused compiles a PIE with the system compiler.
func TestRealPIERefused(t *testing.T) {
	cc := plugintest.CC(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "main.c")
	os.WriteFile(src, []byte("int main(void) { return 0; }\n"), 0o644)
	exe := filepath.Join(dir, "main")
	if out, err := exec.Command(cc, "-fPIE", "-pie", "-o", exe, src).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if _, err := ParseFile(exe); !errors.Is(err, ErrExecutable) {
		t.Fatalf("ParseFile(PIE) = %v, want ErrExecutable", err)
	}
}
