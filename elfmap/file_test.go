package elfmap_test

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/runplug/runplug/elfmap"
	"github.com/runplug/runplug/internal/elfbuild"
)

// spec is the valid object the tests start from: a soname, two needs,
// defined symbols of each kind the facade reports, imports it must leave
// out, and two versions of one name.
func spec() elfbuild.Spec {
	return elfbuild.Spec{
		Soname: "libtool.so.1",
		Needed: []string{"libc.so.6", "libm.so.6"},
		Syms: []elfbuild.Sym{
			{Name: "malloc", Undef: true, Version: "GLIBC_2.2.5"},
			{Name: "cos", Undef: true, Version: "GLIBC_2.2.5", From: "libm.so.6"},
			{Name: "plain"},
			{Name: "counter", Type: elf.STT_OBJECT},
			{Name: "weakling", Bind: elf.STB_WEAK},
			{Name: "vfunc", Version: "TOOL_1.0", Hidden: true},
			{Name: "vfunc", Version: "TOOL_2.0"},
		},
	}
}

func build(t testing.TB, s elfbuild.Spec) *elfbuild.Object {
	t.Helper()
	o, err := elfbuild.Build(s)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func parse(b []byte) (*elfmap.File, error) { return elfmap.Parse(bytes.NewReader(b), int64(len(b))) }

// TestFile reads back what the builder wrote, through Parse and Open.
func TestFile(t *testing.T) {
	o := build(t, spec())
	path := filepath.Join(t.TempDir(), "libtool.so.1")
	if err := o.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	opened, err := elfmap.Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer opened.Close()
	parsed, err := parse(o.Data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	for name, f := range map[string]*elfmap.File{"Open": opened, "Parse": parsed} {
		if f.SOName() != "libtool.so.1" {
			t.Errorf("%s: SOName = %q", name, f.SOName())
		}
		if !slices.Equal(f.Needed(), []string{"libc.so.6", "libm.so.6"}) {
			t.Errorf("%s: Needed = %q", name, f.Needed())
		}
		got := map[string]elfmap.Symbol{}
		for _, s := range f.Symbols() {
			got[s.Name+"@"+s.Version] = s
		}
		want := []struct {
			key    string
			typ    elf.SymType
			bind   elf.SymBind
			hidden bool
		}{
			{"plain@", elf.STT_FUNC, elf.STB_GLOBAL, false},
			{"counter@", elf.STT_OBJECT, elf.STB_GLOBAL, false},
			{"weakling@", elf.STT_FUNC, elf.STB_WEAK, false},
			{"vfunc@TOOL_1.0", elf.STT_FUNC, elf.STB_GLOBAL, true},
			{"vfunc@TOOL_2.0", elf.STT_FUNC, elf.STB_GLOBAL, false},
		}
		if len(got) != len(want) {
			t.Errorf("%s: Symbols = %v, want %d defined symbols (imports left out)", name, f.Symbols(), len(want))
		}
		for _, w := range want {
			s, ok := got[w.key]
			if !ok {
				t.Errorf("%s: no symbol %s in %v", name, w.key, f.Symbols())
				continue
			}
			if s.Type != w.typ || s.Bind != w.bind || s.Hidden != w.hidden || s.Value == 0 {
				t.Errorf("%s: %s = %+v, want type %v, bind %v, hidden %v, a value", name, w.key, s, w.typ, w.bind, w.hidden)
			}
		}
	}
	// A caller's changes to the slices it gets do not reach the File.
	parsed.Needed()[0] = "x"
	parsed.Symbols()[0].Name = "x"
	if parsed.Needed()[0] != "libc.so.6" || parsed.Symbols()[0].Name == "x" {
		t.Error("File shares its slices with the caller")
	}
	if err := opened.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestHostileFile: a broken or unsupported file is refused by the facade
// with the engine's typed error, naming the field, never a panic.
func TestHostileFile(t *testing.T) {
	base := build(t, spec())
	pie := build(t, elfbuild.Spec{Interp: "/lib64/ld-linux-x86-64.so.2", Flags1: elf.DF_1_PIE | elf.DF_1_NOW})
	le16 := func(off int64, v uint16) func(*elfbuild.Object) { return func(o *elfbuild.Object) { o.Put16(off, v) } }
	tests := []struct {
		name  string
		data  []byte
		field string
		is    []error
	}{
		{"bad magic", patch(base, func(o *elfbuild.Object) { o.Data[1] = 'X' }), "e_ident[EI_MAG]", []error{elfmap.ErrMalformed}},
		{"ELFCLASS32", patch(base, func(o *elfbuild.Object) { o.Data[elf.EI_CLASS] = byte(elf.ELFCLASS32) }), "e_ident[EI_CLASS]", []error{elfmap.ErrUnsupported}},
		{"foreign machine", patch(base, le16(elfbuild.EMachine, uint16(elf.EM_RISCV))), "e_machine", []error{elfmap.ErrUnsupported}},
		{"ET_EXEC", patch(base, le16(elfbuild.EType, uint16(elf.ET_EXEC))), "e_type", []error{elfmap.ErrUnsupported, elfmap.ErrExecutable}},
		{"PIE", pie.Data, "DT_FLAGS_1", []error{elfmap.ErrUnsupported, elfmap.ErrExecutable}},
		{"DT_STRSZ past the file", patch(base, func(o *elfbuild.Object) { o.SetDyn(elf.DT_STRSZ, 1<<40) }), "DT_STRSZ", []error{elfmap.ErrMalformed}},
		{"p_filesz > p_memsz", patch(base, func(o *elfbuild.Object) {
			i := o.Phdr(elf.PT_LOAD, 1)
			o.SetPhdr(i, elfbuild.PFilesz, o.PhdrVal(i, elfbuild.PMemsz)+1)
		}), "phdr[", []error{elfmap.ErrMalformed}},
		{"cut short", base.Data[:len(base.Data)/2], "", []error{elfmap.ErrMalformed}},
		{"empty", nil, "", []error{elfmap.ErrMalformed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parse(tt.data)
			if f != nil || err == nil {
				t.Fatalf("Parse = %v, %v; want a refusal", f, err)
			}
			var fe *elfmap.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("%v (%T) is not a *elfmap.FormatError", err, err)
			}
			if tt.field != "" && fe.Field != tt.field && !(strings.HasSuffix(tt.field, "[") && strings.HasPrefix(fe.Field, tt.field)) {
				t.Errorf("Field = %q, want %q (%v)", fe.Field, tt.field, err)
			}
			for _, want := range tt.is {
				if !errors.Is(err, want) {
					t.Errorf("%v is not %v", err, want)
				}
			}
			var ee *elfmap.ExecutableError
			if errors.As(err, &ee) != slices.Contains(tt.is, elfmap.ErrExecutable) {
				t.Errorf("errors.As(%v, *ExecutableError) = %v", err, !slices.Contains(tt.is, elfmap.ErrExecutable))
			}
		})
	}
}

// TestOpenMissing: a file that cannot be read is the os error, wrapped.
func TestOpenMissing(t *testing.T) {
	_, err := elfmap.Open(filepath.Join(t.TempDir(), "nope.so"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open of a missing file = %v, want os.ErrNotExist", err)
	}
}

func patch(o *elfbuild.Object, f func(*elfbuild.Object)) []byte {
	c := o.Clone()
	f(c)
	return c.Data
}

// FuzzParse checks the facade's contract on arbitrary bytes: an error
// exactly when the File is nil, every refusal a *FormatError, never a
// panic, and every symbol of an accepted file named.
func FuzzParse(f *testing.F) {
	f.Add(build(f, spec()).Data)
	f.Add(build(f, elfbuild.Spec{Syms: []elfbuild.Sym{{Name: "f"}}}).Data)
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := parse(data)
		if (file == nil) == (err == nil) {
			t.Fatalf("Parse = %v, %v: exactly one must be nil", file, err)
		}
		if err != nil {
			var fe *elfmap.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("refusal %v (%T) is not a *FormatError", err, err)
			}
			return
		}
		for _, s := range file.Symbols() {
			if s.Name == "" {
				t.Fatalf("a defined symbol without a name: %+v", s)
			}
		}
	})
}
