package elfbuild

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/testenv"
)

// specs are the objects the builder's own tests check.
var specs = map[string]Spec{
	"empty": {},
	"min":   {Syms: []Sym{{Name: "f"}}},
	"sysv only": {
		Syms:      []Sym{{Name: "f"}, {Name: "g", Version: "V"}, {Name: "imp", Undef: true}},
		NoGNUHash: true, SysVHash: true,
	},
	"full": {
		Soname: "libfull.so", Needed: []string{"libc.so.6", "libm.so.6"}, Runpath: "$ORIGIN",
		Syms: []Sym{
			{Name: "malloc", Undef: true, Version: "GLIBC_2.2.5"},
			{Name: "cos", Undef: true, Version: "GLIBC_2.2.5", From: "libm.so.6"},
			{Name: "free", Undef: true},
			{Name: "plain"}, {Name: "counter", Type: elf.STT_OBJECT},
			{Name: "vfunc", Version: "V1", Hidden: true}, {Name: "vfunc", Version: "V2"},
			{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}, {Name: "e"}, {Name: "f"}, {Name: "g"},
		},
		Rela:   []Reloc{{Type: elf.R_X86_64_RELATIVE, Addend: 8}, {Type: elf.R_X86_64_GLOB_DAT, Sym: "malloc"}},
		JmpRel: []Reloc{{Type: elf.R_X86_64_JMP_SLOT, Sym: "free"}},
		Relr:   7, SysVHash: true, Init: true, Fini: true, InitArray: 3, FiniArray: 1,
		TLS: true, RELRO: true, Interp: "/lib64/ld-linux-x86-64.so.2", BSS: 1 << 16,
	},
}

// wantName returns the name readelf -D -s prints for symbol s.
func wantName(s Sym) string {
	switch {
	case s.Version == "":
		return s.Name
	case s.Undef:
		return s.Name + "@" + s.Version
	case s.Hidden:
		return s.Name + "@" + s.Version
	}
	return s.Name + "@@" + s.Version
}

// TestBuildProgramHeaders checks the layout with debug/elf: segments
// ascending, congruent to their offsets modulo the page size, inside the
// file, and every table inside the file bytes of one segment.
func TestBuildProgramHeaders(t *testing.T) {
	ps := uint64(os.Getpagesize())
	for name, spec := range specs {
		t.Run(name, func(t *testing.T) {
			o, err := Build(spec)
			if err != nil {
				t.Fatal(err)
			}
			ef, err := elf.NewFile(bytes.NewReader(o.Data))
			if err != nil {
				t.Fatal(err)
			}
			if ef.Type != elf.ET_DYN || ef.Machine != Machine || ef.Class != elf.ELFCLASS64 || len(ef.Sections) != 0 {
				t.Errorf("header: %v %v %v, %d sections", ef.Type, ef.Machine, ef.Class, len(ef.Sections))
			}
			var loads []*elf.Prog
			var prevEnd uint64
			for _, p := range ef.Progs {
				if p.Type != elf.PT_LOAD {
					continue
				}
				loads = append(loads, p)
				if p.Vaddr%ps != p.Off%ps || p.Vaddr < prevEnd || p.Off+p.Filesz > uint64(len(o.Data)) || p.Filesz > p.Memsz {
					t.Errorf("bad load %+v (previous end %#x)", p.ProgHeader, prevEnd)
				}
				prevEnd = (p.Vaddr + p.Memsz + ps - 1) &^ (ps - 1)
			}
			if len(loads) != 3 || loads[2].Memsz-loads[2].Filesz != spec.BSS {
				t.Fatalf("%d loads, want 3 with %#x bytes of .bss", len(loads), spec.BSS)
			}
			for tname, tab := range o.Tables {
				if tab.Size == 0 || tname == "ehdr" {
					continue
				}
				in := false
				for _, p := range loads {
					if tab.Vaddr >= p.Vaddr && tab.Vaddr+tab.Size <= p.Vaddr+p.Filesz && uint64(tab.Off)-p.Off == tab.Vaddr-p.Vaddr {
						in = true
					}
				}
				if !in {
					t.Errorf("table %s %+v is not inside one segment's file bytes", tname, tab)
				}
			}
			if spec.Interp != "" {
				p := ef.Progs[o.Phdr(elf.PT_INTERP, 0)]
				if got := string(o.Data[p.Off : p.Off+p.Filesz-1]); got != spec.Interp {
					t.Errorf("interp %q", got)
				}
			}
		})
	}
}

// TestBuildReadelf checks the dynamic symbol table and its versions with
// binutils' readelf, which reads them through the dynamic segment and the
// hash tables (-D), as a loader does.
func TestBuildReadelf(t *testing.T) {
	readelf := testenv.LookPath(t, "readelf", "apt-get install binutils")
	dir := t.TempDir()
	for name, spec := range specs {
		if len(spec.Syms) == 0 {
			continue // readelf -D shows no table without a hashed symbol
		}
		t.Run(name, func(t *testing.T) {
			o, err := Build(spec)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".so")
			if err := o.WriteFile(path); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(readelf, "-W", "-D", "-s", path).CombinedOutput()
			if err != nil {
				t.Fatalf("readelf: %v\n%s", err, out)
			}
			if bytes.Contains(out, []byte("Error")) || bytes.Contains(out, []byte("Warning")) {
				t.Errorf("readelf complains:\n%s", out)
			}
			got := map[string]uint64{}
			n := 0
			for _, line := range strings.Split(string(out), "\n") {
				f := strings.Fields(line)
				if len(f) < 7 || !strings.HasSuffix(f[0], ":") || f[0] == "Num:" {
					continue
				}
				n++
				v, err := strconv.ParseUint(f[1], 16, 64)
				if err != nil {
					t.Fatalf("readelf line %q: %v", line, err)
				}
				if len(f) > 7 { // the null symbol has no name
					got[f[7]] = v
				}
			}
			if n != len(o.Syms) {
				t.Errorf("readelf sees %d symbols, built %d\n%s", n, len(o.Syms), out)
			}
			for _, s := range spec.Syms {
				i := o.SymIndex(s.Name)
				v, ok := got[wantName(s)]
				if !ok {
					t.Errorf("readelf does not list %s\n%s", wantName(s), out)
					continue
				}
				if !s.Undef && s.Version == "" && v != o.Values[i] {
					t.Errorf("%s: readelf value %#x, built %#x", s.Name, v, o.Values[i])
				}
			}
		})
	}
}

// TestBuildPatch checks the patch helpers.
func TestBuildPatch(t *testing.T) {
	o, err := Build(specs["full"])
	if err != nil {
		t.Fatal(err)
	}
	c := o.Clone()
	dyn := c.Phdr(elf.PT_DYNAMIC, 0)
	if dyn < 0 || c.Phdr(elf.PT_LOAD, 2) < 0 || c.Phdr(elf.PT_LOAD, 3) != -1 {
		t.Fatalf("Phdr: dynamic %d", dyn)
	}
	c.SetPhdr(dyn, PFilesz, 0x1234)
	c.SetPhdr(dyn, PFlags, 7)
	c.SetDyn(elf.DT_STRSZ, 99)
	c.SetDynTag(elf.DT_SYMENT, elf.DT_DEBUG)
	c.Put16(EMachine, 3)
	if c.PhdrVal(dyn, PFilesz) != 0x1234 || c.PhdrVal(dyn, PFlags) != 7 || c.DynVal(elf.DT_STRSZ) != 99 ||
		c.Dyn(elf.DT_SYMENT) != -1 || c.Dyn(elf.DT_DEBUG) < 0 || c.U16(EMachine) != 3 {
		t.Errorf("patches not read back")
	}
	if o.PhdrVal(dyn, PFilesz) == 0x1234 || o.Dyn(elf.DT_SYMENT) < 0 || o.U16(EMachine) != uint16(Machine) {
		t.Errorf("patching the clone changed the original")
	}
	if got := o.U64(o.DynOff(o.Dyn(elf.DT_STRTAB)) + 8); got != o.Tables["dynstr"].Vaddr {
		t.Errorf("DT_STRTAB = %#x, dynstr at %#x", got, o.Tables["dynstr"].Vaddr)
	}
	if name := o.U32(o.SymOff(o.SymIndex("plain"))); string(o.Data[o.Tables["dynstr"].Off+int64(name):][:5]) != "plain" {
		t.Errorf("SymOff does not point at plain's st_name")
	}
}

// TestBuildErrors checks the specs Build refuses.
func TestBuildErrors(t *testing.T) {
	for _, s := range []Spec{
		{Relr: 65},
		{Rela: []Reloc{{Type: elf.R_X86_64_64, Sym: "nowhere"}}},
	} {
		if o, err := Build(s); err == nil {
			t.Errorf("Build(%+v) = %d bytes, want an error", s, len(o.Data))
		}
	}
}
