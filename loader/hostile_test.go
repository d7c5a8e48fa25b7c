package loader

import (
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/errs"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/sysmaps"
)

// relaEntry is one relocation of a compiled plugin and the file offset of
// its Elf64_Rela, found through the section headers with debug/elf.
type relaEntry struct {
	fileOff int64
	off     uint64
	typ     elf.R_X86_64 // this architecture's type (rt), whatever its name
	sym     uint32
	addend  int64
}

// relas returns the entries of section name (".rela.dyn", ".rela.plt").
func relas(t *testing.T, path, name string) []relaEntry {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := f.Section(name)
	if s == nil {
		t.Fatalf("%s has no %s", path, name)
	}
	data, err := s.Data()
	if err != nil {
		t.Fatal(err)
	}
	var out []relaEntry
	for i := 0; i+24 <= len(data); i += 24 {
		info := binary.LittleEndian.Uint64(data[i+8:])
		out = append(out, relaEntry{
			fileOff: int64(s.Offset) + int64(i),
			off:     binary.LittleEndian.Uint64(data[i:]),
			typ:     elf.R_X86_64(uint32(info)),
			sym:     uint32(info >> 32),
			addend:  int64(binary.LittleEndian.Uint64(data[i+16:])),
		})
	}
	return out
}

// segment returns the first PT_LOAD of path with the given flags.
func segment(t *testing.T, path string, flags ...elf.ProgFlag) *elf.Prog {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, fl := range flags { // the first of flags that a PT_LOAD has
		for _, p := range f.Progs {
			if p.Type == elf.PT_LOAD && p.Flags == fl {
				return p
			}
		}
	}
	t.Fatalf("%s has no PT_LOAD with flags %v", path, flags)
	return nil
}

// first returns the first entry of rs of type typ.
func first(t *testing.T, rs []relaEntry, typ elf.R_X86_64) relaEntry {
	t.Helper()
	for _, r := range rs {
		if r.typ == typ {
			return r
		}
	}
	t.Fatalf("no %v relocation", typ)
	return relaEntry{}
}

func TestHostileRelocations(t *testing.T) {
	basic := plugintest.Build(t, "basic")
	orig, err := os.ReadFile(basic)
	if err != nil {
		t.Fatal(err)
	}
	dyn := relas(t, basic, ".rela.dyn")
	rel := first(t, dyn, elf.R_X86_64(rt.Relative))
	glob := first(t, dyn, elf.R_X86_64(rt.GlobDat))
	text := segment(t, basic, elf.PF_R|elf.PF_X)
	data := segment(t, basic, elf.PF_R|elf.PF_W)
	// Read-only data: its own segment, or the text's (AArch64's GNU ld
	// does not separate code by default).
	ro := segment(t, basic, elf.PF_R, elf.PF_R|elf.PF_X)

	ifn := plugintest.Build(t, "ifunc")
	ifnImage, err := os.ReadFile(ifn)
	if err != nil {
		t.Fatal(err)
	}
	irel := first(t, relas(t, ifn, ".rela.dyn"), elf.R_X86_64(rt.IRelative))
	ifnData := segment(t, ifn, elf.PF_R|elf.PF_W)

	put := func(img []byte, off int64, v uint64) { binary.LittleEndian.PutUint64(img[off:], v) }
	info := func(sym uint32, typ elf.R_X86_64) uint64 { return uint64(sym)<<32 | uint64(typ) }

	for _, tc := range []struct {
		name   string
		image  []byte // nil: basic
		patch  func(img []byte)
		target error
		msg    string
	}{
		{"place in text", nil, func(b []byte) { put(b, rel.fileOff, text.Vaddr+16) }, elfimage.ErrMalformed, "not inside a writable segment"},
		{"place in read-only data", nil, func(b []byte) { put(b, rel.fileOff, ro.Vaddr) }, elfimage.ErrMalformed, "not inside a writable segment"},
		{"place far outside the image", nil, func(b []byte) { put(b, rel.fileOff, 1<<46) }, elfimage.ErrMalformed, "not inside a writable segment"},
		{"place wraps around", nil, func(b []byte) { put(b, rel.fileOff, ^uint64(3)) }, elfimage.ErrMalformed, "not inside a writable segment"},
		{"place straddles the end of the data segment", nil, func(b []byte) { put(b, rel.fileOff, data.Vaddr+data.Memsz-4) }, elfimage.ErrMalformed, "not inside a writable segment"},
		{"place below the image", nil, func(b []byte) { put(b, rel.fileOff, ^uint64(0)-(1<<20)) }, elfimage.ErrMalformed, "not inside a writable segment"},
		{"symbol index past the table", nil, func(b []byte) { put(b, glob.fileOff+8, info(0xffffff, elf.R_X86_64(rt.GlobDat))) }, elfimage.ErrMalformed, "past the symbol table"},
		{"unknown type PC32", nil, func(b []byte) { put(b, rel.fileOff+8, info(0, elf.R_X86_64(rt.PCRel))) }, elfimage.ErrUnsupported, errs.RelocTypeName(rt.PCRel)},
		{"COPY", nil, func(b []byte) { put(b, glob.fileOff+8, info(glob.sym, elf.R_X86_64(rt.Copy))) }, elfimage.ErrUnsupported, errs.RelocTypeName(rt.Copy)},
		{"type 250", nil, func(b []byte) { put(b, rel.fileOff+8, info(0, 250)) }, elfimage.ErrUnsupported, "unsupported relocation type 250"},
		{"TLS relocation of a symbol that is not thread-local", nil, func(b []byte) { put(b, glob.fileOff+8, info(glob.sym, elf.R_X86_64(rt.TPOff))) }, elfimage.ErrMalformed, "not thread-local"},
		{"IRELATIVE resolver in data", ifnImage, func(b []byte) { put(b, irel.fileOff+16, ifnData.Vaddr) }, elfimage.ErrMalformed, "not inside an executable segment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := orig
			if tc.image != nil {
				src = tc.image
			}
			img := append([]byte(nil), src...)
			tc.patch(img)
			before := countMappings(t)
			l := New(Options{})
			// Refused 20 times: a leak would add 20 mappings or more,
			// the Go runtime adds or drops one now and then.
			for i := 0; i < 20; i++ {
				_, err := l.LoadBytes(context.Background(), "hostile.so", img)
				if !errors.Is(err, tc.target) || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("LoadBytes: %v; want %v mentioning %q", err, tc.target, tc.msg)
				}
				var re *RelocError
				if tc.target != ErrTLS && !errors.As(err, &re) {
					t.Fatalf("error %v is not a *RelocError", err)
				}
			}
			if len(l.tombs) != 0 || len(l.plugins) != 0 {
				t.Errorf("refused loads left %d tombstones and %d plugins", len(l.tombs), len(l.plugins))
			}
			if err := l.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if after := countMappings(t); after > before+5 {
				t.Errorf("mappings: %d before, %d after 20 refused loads", before, after)
			}
		})
	}
}

func TestTextRelRefused(t *testing.T) {
	l := newLoader(t, Options{})
	_, err := l.Load(context.Background(), plugintest.Build(t, "reloc_textrel"))
	if !errors.Is(err, elfimage.ErrUnsupported) || !strings.Contains(err.Error(), "DT_TEXTREL") {
		t.Fatalf("load: %v, want DT_TEXTREL refused", err)
	}
}

// TestCtorArrayOutsideText points the first entry of .init_array or
// .fini_array into the data segment: the load is refused, naming the
// entry (the destructors too, at load time, before any code of the object
// runs).
func TestCtorArrayOutsideText(t *testing.T) {
	path := plugintest.Build(t, "basic")
	data := segment(t, path, elf.PF_R|elf.PF_W)
	for _, tt := range []struct{ section, want string }{
		{".init_array", "DT_INIT_ARRAY[0]"},
		{".fini_array", "DT_FINI_ARRAY[0]"},
	} {
		t.Run(tt.section, func(t *testing.T) {
			img, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := elf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			sec := f.Section(tt.section)
			f.Close()
			if sec == nil {
				t.Fatalf("basic.so has no %s", tt.section)
			}
			patched := false
			for _, r := range relas(t, path, ".rela.dyn") {
				if r.off == sec.Addr && r.typ == elf.R_X86_64(rt.Relative) {
					binary.LittleEndian.PutUint64(img[r.fileOff+16:], data.Vaddr)
					patched = true
				}
			}
			if !patched {
				t.Fatalf("no RELATIVE relocation of %s[0]", tt.section)
			}
			l := newLoader(t, Options{})
			if _, err := l.LoadBytes(context.Background(), "basic.so", img); !errors.Is(err, elfimage.ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("LoadBytes: %v, want %s refused", err, tt.want)
			}
		})
	}
}

func TestGarbageRefused(t *testing.T) {
	l := newLoader(t, Options{})
	for _, img := range [][]byte{nil, []byte("\x7fELF"), make([]byte, 4096)} {
		if _, err := l.LoadBytes(context.Background(), "garbage", img); !errors.Is(err, elfimage.ErrMalformed) && !errors.Is(err, elfimage.ErrUnsupported) {
			t.Errorf("LoadBytes(%d bytes of garbage): %v", len(img), err)
		}
	}
}

// countMappings returns the number of mappings of the process.
func countMappings(t testing.TB) int {
	t.Helper()
	ms, err := sysmaps.Read()
	if err != nil {
		t.Fatal(err)
	}
	return len(ms)
}

func TestAbsurdTableSizes(t *testing.T) {
	path := plugintest.Build(t, "basic")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	dyn := f.Section(".dynamic")
	f.Close()
	if dyn == nil {
		t.Fatal("basic.so has no .dynamic section")
	}
	for _, tc := range []struct {
		tag elf.DynTag
		val uint64
	}{
		{elf.DT_RELASZ, 0xffffffffffff0},
		{elf.DT_PLTRELSZ, 1 << 40},
		{elf.DT_STRSZ, ^uint64(0)},
		{elf.DT_INIT_ARRAYSZ, 1 << 50},
	} {
		t.Run(tc.tag.String(), func(t *testing.T) {
			img := append([]byte(nil), orig...)
			found := false
			for off := dyn.Offset; off+16 <= dyn.Offset+dyn.Size; off += 16 {
				if elf.DynTag(binary.LittleEndian.Uint64(img[off:])) == tc.tag {
					binary.LittleEndian.PutUint64(img[off+8:], tc.val)
					found = true
				}
			}
			if !found {
				t.Fatalf("basic.so has no %v", tc.tag)
			}
			l := newLoader(t, Options{})
			if _, err := l.LoadBytes(context.Background(), "absurd.so", img); !errors.Is(err, elfimage.ErrMalformed) {
				t.Errorf("LoadBytes with %v = %#x: %v, want ErrMalformed", tc.tag, tc.val, err)
			}
		})
	}
}

func TestFIFOInSearchPathDoesNotHang(t *testing.T) {
	image, err := os.ReadFile(plugintest.Build(t, "dep_a"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := unix.Mkfifo(filepath.Join(dir, "dep_b.so"), 0o644); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	t.Setenv("LD_LIBRARY_PATH", "")
	l := newLoader(t, Options{SearchPath: []string{dir}})
	done := make(chan error, 1)
	go func() {
		_, err := l.LoadBytes(context.Background(), "dep_a.so", image)
		done <- err
	}()
	select {
	case err := <-done:
		var nf *NotFoundError
		if !errors.As(err, &nf) || nf.Err == nil || !strings.Contains(nf.Err.Error(), "not a regular file") {
			t.Errorf("LoadBytes: %v, want dep_b.so not found, the FIFO refused as not a regular file", err)
		}
	case <-time.After(10 * time.Second):
		// Release the blocked open (a writer arrives) before failing,
		// so that the Loader can still be closed.
		if w, err := os.OpenFile(filepath.Join(dir, "dep_b.so"), os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		<-done
		t.Fatal("LoadBytes hangs on a FIFO in the search path")
	}
}
