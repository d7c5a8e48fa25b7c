package loader

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/testenv"
	"github.com/runplug/runplug/internal/tlsrt"
)

// TPOFF and TLSDESC relocations wait for applyTLS, which writes the
// static offset (TPOFF64, TPOFF32, static descriptors) or a dynamic
// descriptor.
func TestRelocTLSDeferred(t *testing.T) {
	testenv.NeedPort(t, tlsrt.Supported, "TLS descriptors (internal/tlsrt)")
	syms := map[uint32]symValue{
		1: {addr: 0x40, tls: true, mod: 9}, // another object's, static
		2: {addr: 0x10, tls: true, mod: 4}, // this object's, dynamic
	}
	static := func(mod uint64) (int64, bool) { return -0x100, mod == 9 }
	fi := newFake(syms, 3)
	fi.env.tlsMod = 4
	d := testTables{Rela: []elfimage.Rela{
		rela(0x2000, rt.TPOff, 1, 8),
		rela(0x2010, rt.TLSDesc, 1, 4),
		rela(0x2020, rt.TLSDesc, 2, 0),
		rela(0x2030, rt.TLSDesc, 0, 0x30), // symbol 0: the object's own module
	}}
	if err := fi.env.relocate(d.views()); err != nil {
		t.Fatal(err)
	}
	for at := uint64(0x2000); at < 0x2040; at += 8 {
		if w := fi.word(at); w != 0 {
			t.Fatalf("%#x = %#x before applyTLS: deferred relocations must not write", at, w)
		}
	}
	if len(fi.env.tlsLate) != 4 {
		t.Fatalf("%d deferred relocations, want 4", len(fi.env.tlsLate))
	}
	if err := fi.env.applyTLS(static); err != nil {
		t.Fatal(err)
	}
	u64 := func(v int64) uint64 { return uint64(v) }
	arg2, _ := tlsrt.TLSDescDynamicArg(4, 0x10)
	arg0, _ := tlsrt.TLSDescDynamicArg(4, 0x30)
	for _, tc := range []struct {
		at, want uint64
		what     string
	}{
		{0x2000, u64(-0x100 + 0x48), "TPOFF64: static offset + S + A"},
		{0x2008, 0, "nothing"},
		{0x2010, uint64(tlsrt.TLSDescStatic()), "TLSDESC of a static module: the static resolver"},
		{0x2018, u64(-0x100 + 0x44), "TLSDESC of a static module: its offset from the thread pointer"},
		{0x2020, uint64(tlsrt.TLSDescDynamic()), "TLSDESC of a dynamic module: the dynamic resolver"},
		{0x2028, arg2, "TLSDESC of a dynamic module: module and offset"},
		{0x2030, uint64(tlsrt.TLSDescDynamic()), "TLSDESC of symbol 0"},
		{0x2038, arg0, "TLSDESC of symbol 0: the object's own module, A"},
	} {
		if got := fi.word(tc.at); got != tc.want {
			t.Errorf("%s at %#x: %#x, want %#x", tc.what, tc.at, got, tc.want)
		}
	}

	// A TPOFF of a module without static TLS is refused when applied.
	checkTLSRefusals(t, syms, []tlsRefusal{
		{"TPOFF64 of a dynamic module", rela(0x2000, rt.TPOff, 2, 0), static, "no static TLS"},
	})
}

// tlsRefusal is a deferred TLS relocation applyTLS must refuse.
type tlsRefusal struct {
	name   string
	r      elfimage.Rela
	static func(uint64) (int64, bool)
	msg    string
}

// checkTLSRefusals relocates each case's relocation over symbols syms and
// checks that applyTLS refuses it with ErrTLS, writing nothing.
func checkTLSRefusals(t *testing.T, syms map[uint32]symValue, cases []tlsRefusal) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fi := newFake(syms, 3)
			if err := fi.env.relocate(testTables{Rela: []elfimage.Rela{tc.r}}.views()); err != nil {
				t.Fatal(err)
			}
			err := fi.env.applyTLS(tc.static)
			var re *RelocError
			if !errors.Is(err, ErrTLS) || !errors.As(err, &re) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("applyTLS: %v, want a *RelocError wrapping ErrTLS mentioning %q", err, tc.msg)
			}
			if w := binary.LittleEndian.Uint64(fi.env.mem[0x1000:]); w != 0 {
				t.Errorf("a refused relocation wrote %#x", w)
			}
		})
	}
}
