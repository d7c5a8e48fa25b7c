package loader

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/errs"
)

// fakeImage is a relocation environment over a plain byte slice: image
// vaddrs [0x1000, 0x3000), text at [0x1000, 0x2000), data (writable) at
// [0x2000, 0x2100).
type fakeImage struct {
	env      relocEnv
	resolves map[uint32]int // resolve calls per symbol
	calls    []uint64       // resolver calls, in order
}

const fakeBase = 0x7f0000000000

func newFake(syms map[uint32]symValue, nsyms int) *fakeImage {
	fi := &fakeImage{resolves: map[uint32]int{}}
	fi.env = relocEnv{
		name:     "fake.so",
		base:     fakeBase,
		mem:      make([]byte, 0x2000),
		minVaddr: 0x1000,
		writable: []span{{0x2000, 0x2100}},
		exec:     []span{{0x1000, 0x2000}},
		nsyms:    nsyms,
		resolve: func(sym uint32) (symValue, error) {
			fi.resolves[sym]++
			v, ok := syms[sym]
			if !ok {
				return symValue{}, &UndefinedSymbolError{Object: "fake.so", Symbol: "s"}
			}
			return v, nil
		},
		callResolver: func(addr uint64) (uint64, error) {
			fi.calls = append(fi.calls, addr)
			return addr + 0x10000, nil
		},
	}
	return fi
}

func (fi *fakeImage) word(vaddr uint64) uint64 {
	return binary.LittleEndian.Uint64(fi.env.mem[vaddr-fi.env.minVaddr:])
}

func (fi *fakeImage) setWord(vaddr, v uint64) {
	binary.LittleEndian.PutUint64(fi.env.mem[vaddr-fi.env.minVaddr:], v)
}

// testTables are relocation tables written out as the file has them, for
// relocEnv.relocate, which reads them in place.
type testTables struct {
	Rela, JmpRel []elfimage.Rela
}

func (tt testTables) views() relocTables {
	return relocTables{rela: relaView(tt.Rela), jmprel: relaView(tt.JmpRel)}
}

// relaView encodes rs as an array of Elf64_Rela.
func relaView(rs []elfimage.Rela) elfimage.RelaView {
	var b []byte
	for _, r := range rs {
		b = binary.LittleEndian.AppendUint64(b, r.Off)
		b = binary.LittleEndian.AppendUint64(b, uint64(r.Sym)<<32|uint64(r.Type))
		b = binary.LittleEndian.AppendUint64(b, uint64(r.Addend))
	}
	return b
}

// relrView encodes DT_RELR entries.
func relrView(es []uint64) elfimage.RelrView {
	var b []byte
	for _, e := range es {
		b = binary.LittleEndian.AppendUint64(b, e)
	}
	return b
}

func rela(off uint64, typ uint32, sym uint32, addend int64) elfimage.Rela {
	return elfimage.Rela{Off: off, Type: typ, Sym: sym, Addend: addend}
}

// relocTestTypes are the r_type values of one architecture's relocations
// (reloc_amd64_test.go, reloc_arm64_test.go), so that one set of tests
// checks each table and the loop behind it.
type relocTestTypes struct {
	None, Relative, Abs, GlobDat, JumpSlot, IRelative uint32
	DTPMod, DTPOff, TPOff, TLSDesc                    uint32
	Copy, PCRel                                       uint32   // refused: ErrUnsupported, naming the type
	LinkTLS                                           []uint32 // link-time TLS types: ErrTLS
	SymAddend                                         bool     // GLOB_DAT and JUMP_SLOT add the addend (AArch64)
}

func TestRelocArithmetic(t *testing.T) {
	syms := map[uint32]symValue{
		1: {addr: 0x5000_0000},
		2: {addr: fakeBase + 0x1800, ifunc: true}, // an IFUNC of the object itself
		3: {addr: 0},                              // a weak import nothing provides
	}
	fi := newFake(syms, 4)
	fi.setWord(0x2048, 0xdead) // NONE must leave it alone
	d := testTables{
		Rela: []elfimage.Rela{
			rela(0x2000, rt.Relative, 0, 0x1234),
			rela(0x2008, rt.Abs, 1, 0x20),
			rela(0x2010, rt.Abs, 1, -8),
			rela(0x2018, rt.GlobDat, 1, 0x99), // addend ignored
			rela(0x2020, rt.IRelative, 0, 0x1900),
			rela(0x2028, rt.GlobDat, 2, 0),
			rela(0x2040, rt.Abs, 3, 4),
			rela(0x2048, rt.None, 0, 0),
			rela(0x2050, rt.Abs, 0, 0x77), // symbol 0: S = 0
		},
		JmpRel: []elfimage.Rela{
			rela(0x2030, rt.JumpSlot, 1, 0),
			rela(0x2038, rt.JumpSlot, 2, 0),
		},
	}
	if err := fi.env.relocate(d.views()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   uint64
		want uint64
		what string
	}{
		{0x2000, fakeBase + 0x1234, "RELATIVE B+A"},
		{0x2008, 0x5000_0020, "64 S+A"},
		{0x2010, 0x5000_0000 - 8, "64 S+A, negative addend"},
		{0x2018, 0x5000_0000 + symAddend(0x99), "GLOB_DAT S (S + A on AArch64)"},
		{0x2020, fakeBase + 0x1900 + 0x10000, "IRELATIVE: the resolver's result"},
		{0x2028, fakeBase + 0x1800 + 0x10000, "GLOB_DAT of an IFUNC: the resolver's result"},
		{0x2030, 0x5000_0000, "JUMP_SLOT S"},
		{0x2038, fakeBase + 0x1800 + 0x10000, "JUMP_SLOT of an IFUNC"},
		{0x2040, 4, "64 against a weak undefined symbol: 0+A"},
		{0x2048, 0xdead, "NONE"},
		{0x2050, 0x77, "64 against symbol 0"},
	} {
		if got := fi.word(tc.at); got != tc.want {
			t.Errorf("%s at %#x: %#x, want %#x", tc.what, tc.at, got, tc.want)
		}
	}
	if fi.resolves[1] != 1 || fi.resolves[2] != 1 || fi.resolves[3] != 1 {
		t.Errorf("resolve calls per symbol %v, want one each (cached per pass)", fi.resolves)
	}
	// Resolvers run after every other relocation, the IFUNC symbol's once.
	want := []uint64{fakeBase + 0x1900, fakeBase + 0x1800}
	if len(fi.calls) != 2 || fi.calls[0] != want[0] || fi.calls[1] != want[1] {
		t.Errorf("resolver calls %#x, want %#x", fi.calls, want)
	}
}

// symAddend is the addend GLOB_DAT and JUMP_SLOT add on this
// architecture: a on AArch64, none on x86-64.
func symAddend(a uint64) uint64 {
	if rt.SymAddend {
		return a
	}
	return 0
}

func TestRelocRefusals(t *testing.T) {
	type refusal struct {
		name string
		r    elfimage.Rela
		err  error
		msg  string
	}
	cases := []refusal{
		{"place in text", rela(0x1800, rt.Relative, 0, 0), elfimage.ErrMalformed, "not inside a writable segment"},
		{"place straddles the end", rela(0x20fc, rt.Relative, 0, 0), elfimage.ErrMalformed, "not inside a writable segment"},
		{"place past the end of memory", rela(0x2ff8+0x10000, rt.Relative, 0, 0), elfimage.ErrMalformed, "not inside a writable segment"},
		{"place wraps", rela(^uint64(3), rt.Relative, 0, 0), elfimage.ErrMalformed, "not inside a writable segment"},
		{"symbol past the table", rela(0x2000, rt.GlobDat, 9, 0), elfimage.ErrMalformed, "past the symbol table"},
		{"PC-relative", rela(0x2000, rt.PCRel, 1, 0), elfimage.ErrUnsupported, errs.RelocTypeName(rt.PCRel)},
		{"COPY", rela(0x2000, rt.Copy, 1, 0), elfimage.ErrUnsupported, errs.RelocTypeName(rt.Copy)},
		{"DTPMOD64 of a symbol that is not thread-local", rela(0x2000, rt.DTPMod, 1, 0), elfimage.ErrMalformed, "not thread-local"},
		{"DTPOFF64 of a symbol that is not thread-local", rela(0x2000, rt.DTPOff, 1, 0), elfimage.ErrMalformed, "not thread-local"},
		{"DTPMOD64 of an object without PT_TLS", rela(0x2000, rt.DTPMod, 0, 0), elfimage.ErrMalformed, "without a PT_TLS"},
		{"64 of a thread-local symbol", rela(0x2000, rt.Abs, 5, 0), elfimage.ErrMalformed, "thread-local symbol"},
		{"GLOB_DAT of a thread-local symbol", rela(0x2000, rt.GlobDat, 5, 0), elfimage.ErrMalformed, "thread-local symbol"},
		{"TPOFF64 of a symbol that is not thread-local", rela(0x2000, rt.TPOff, 1, 0), elfimage.ErrMalformed, "not thread-local"},
		{"TPOFF64 of an object without PT_TLS", rela(0x2000, rt.TPOff, 0, 0), elfimage.ErrMalformed, "without a PT_TLS"},
		{"TLSDESC past the writable end", rela(0x20f8, rt.TLSDesc, 5, 0), elfimage.ErrMalformed, "not inside a writable segment"},
		{"TLSDESC symbol past the table", rela(0x2000, rt.TLSDesc, 9, 0), elfimage.ErrMalformed, "past the symbol table"},
		{"IRELATIVE resolver in data", rela(0x2000, rt.IRelative, 0, 0x2000), elfimage.ErrMalformed, "executable"},
		{"undefined symbol", rela(0x2000, rt.GlobDat, 2, 0), ErrSymbolNotFound, "undefined symbol"},
	}
	for _, typ := range rt.LinkTLS {
		cases = append(cases, refusal{errs.RelocTypeName(typ), rela(0x2000, typ, 5, 0), ErrTLS, "thread-local relocation (a link-time type)"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fi := newFake(map[uint32]symValue{1: {addr: 1}, 5: {addr: 8, tls: true, mod: 3}}, 6)
			before := append([]byte(nil), fi.env.mem...)
			err := fi.env.relocate(testTables{Rela: []elfimage.Rela{tc.r}}.views())
			if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("relocate: %v; want %v mentioning %q", err, tc.err, tc.msg)
			}
			if string(before) != string(fi.env.mem) {
				t.Errorf("a refused relocation wrote to memory")
			}
		})
	}
}

func TestRelocTLS(t *testing.T) {
	syms := map[uint32]symValue{
		1: {addr: 0x40, tls: true, mod: 9}, // defined by another object (module 9)
		2: {addr: 0x10, tls: true, mod: 4}, // defined by this object
	}
	fi := newFake(syms, 3)
	fi.env.tlsMod = 4
	d := testTables{
		Rela: []elfimage.Rela{
			rela(0x2000, rt.DTPMod, 1, 0),
			rela(0x2008, rt.DTPOff, 1, 0),
			rela(0x2010, rt.DTPOff, 1, 8),
			rela(0x2018, rt.DTPMod, 0, 0), // local-dynamic: the object itself
			rela(0x2020, rt.DTPOff, 0, 0x30),
			rela(0x2028, rt.DTPMod, 2, 0),
			rela(0x2030, rt.DTPOff, 2, 0),
		},
	}
	if err := fi.env.relocate(d.views()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at, want uint64
		what     string
	}{
		{0x2000, 9, "DTPMOD64 of another object's symbol: its module"},
		{0x2008, 0x40, "DTPOFF64: the symbol's offset"},
		{0x2010, 0x48, "DTPOFF64: S + A"},
		{0x2018, 4, "DTPMOD64 of symbol 0: the object's own module"},
		{0x2020, 0x30, "DTPOFF64 of symbol 0: A"},
		{0x2028, 4, "DTPMOD64 of the object's own symbol"},
		{0x2030, 0x10, "DTPOFF64 of the object's own symbol"},
	} {
		if got := fi.word(tc.at); got != tc.want {
			t.Errorf("%s at %#x: %#x, want %#x", tc.what, tc.at, got, tc.want)
		}
	}
	if fi.resolves[1] != 1 || fi.resolves[2] != 1 {
		t.Errorf("resolve calls per symbol %v, want one each (cached per pass)", fi.resolves)
	}
}

func TestRelr(t *testing.T) {
	fi := newFake(nil, 1)
	for v := uint64(0x2000); v < 0x2100; v += 8 {
		fi.setWord(v, v) // implicit addends
	}
	// An address (0x2000; the bitmap that follows starts at 0x2008); a
	// bitmap with bits 1 and 3 (0x2008, 0x2018); an empty bitmap (moves
	// the window 63 places on, relocating nothing); a new address
	// (0x2080) and a bitmap with bit 2 (0x2088+8 = 0x2090).
	entries := []uint64{0x2000, 1 | 1<<1 | 1<<3, 1, 0x2080, 1 | 1<<2}
	if err := fi.env.relr(relrView(entries)); err != nil {
		t.Fatal(err)
	}
	relocated := map[uint64]bool{0x2000: true, 0x2008: true, 0x2018: true, 0x2080: true, 0x2090: true}
	for v := uint64(0x2000); v < 0x2100; v += 8 {
		want := v
		if relocated[v] {
			want = v + fakeBase
		}
		if got := fi.word(v); got != want {
			t.Errorf("word at %#x = %#x, want %#x", v, got, want)
		}
	}
	for _, tc := range []struct {
		name    string
		entries []uint64
		msg     string
	}{
		{"bitmap first", []uint64{1 | 1<<1}, "without a preceding address"},
		{"address in text", []uint64{0x1000}, "not inside a writable segment"},
		{"bitmap runs off the segment", []uint64{0x20f8, 1 | 1<<2}, "not inside a writable segment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := newFake(nil, 1).env.relr(relrView(tc.entries))
			var re *RelocError
			if !errors.As(err, &re) || !errors.Is(err, elfimage.ErrMalformed) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("relr: %v, want a malformed *RelocError mentioning %q", err, tc.msg)
			}
		})
	}
}

func TestInSpans(t *testing.T) {
	s := []span{{0x10, 0x20}, {0x40, 0x48}}
	for _, tc := range []struct {
		v, n uint64
		want bool
	}{
		{0x10, 8, true}, {0x18, 8, true}, {0x19, 8, false}, {0x20, 1, false},
		{0x40, 8, true}, {0x41, 8, false}, {^uint64(0), 8, false}, {0x0, 8, false},
	} {
		if got := inSpans(s, tc.v, tc.n); got != tc.want {
			t.Errorf("inSpans(%#x, %d) = %v, want %v", tc.v, tc.n, got, tc.want)
		}
	}
}
