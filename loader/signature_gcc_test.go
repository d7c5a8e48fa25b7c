package loader

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/runplug/runplug/abi"
	"github.com/runplug/runplug/internal/callconv"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/testenv"
)

// TestSignatureAgainstGCC is a differential test of the classification
// and the argument plan: it makes random C signatures (structs, unions,
// arrays and scalars of every width, nested, as arguments and results,
// many enough to spill), has gcc compile callees that record every
// argument byte they receive and a direct caller of each, and checks that
// runplug's call and gcc's call deliver the same bytes and the same result.
// On arm64 the types include long double (IEEE binary128: in a whole q
// register, alone or in an HFA of up to four, else in 16-byte stack
// slots), whose random bytes pass through unchanged.
// The seed is fixed, so a failure reproduces; RUNPLUG_ABI_SEED picks another.
func TestSignatureAgainstGCC(t *testing.T) {
	testenv.NeedPort(t, pcall.FramesSupported, "general calls (the AAPCS64 frame thunk)")
	seed := int64(12)
	if s := os.Getenv("RUNPLUG_ABI_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	againstGCC(t, seed, 40)
}

// FuzzSignatureAgainstGCC is TestSignatureAgainstGCC with the fuzzer
// choosing the seed (each input compiles a plugin: about a second):
//
//	go test ./loader -run '^$' -fuzz FuzzSignatureAgainstGCC -fuzztime 2m
func FuzzSignatureAgainstGCC(f *testing.F) {
	testenv.NeedPort(f, pcall.FramesSupported, "general calls (the AAPCS64 frame thunk)")
	f.Add(int64(1))
	f.Fuzz(func(t *testing.T, seed int64) {
		againstGCC(t, seed, 8)
	})
}

// againstGCC compiles nfuncs random signatures made from seed and
// compares runplug's calls of them with gcc's.
func againstGCC(t *testing.T, seed int64, nfuncs int) {
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	cc = testenv.LookPath(t, cc, "apt-get install gcc")
	g := &cgen{rng: rand.New(rand.NewSource(seed)), scalars: cscalars, floats: cscalars[8:10]}
	if callconv.Native == callconv.AAPCS64 {
		// Any 16 bytes are a binary128 value that a q register carries
		// unchanged (x87's long double on amd64 is 10 bytes of 16, and
		// loads of some patterns change them: not there).
		ld := cscalar{abi.LongDouble, "long double"}
		g.scalars = append(slices.Clip(cscalars), ld)
		g.floats = append(slices.Clip(g.floats), ld)
	}
	var cases []gccCase
	for i := 0; i < nfuncs; i++ {
		cases = append(cases, g.function(i))
	}
	src := filepath.Join(t.TempDir(), "abi_gcc.c")
	so := strings.TrimSuffix(src, ".c") + ".so"
	if err := os.WriteFile(src, []byte(g.source()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-O2", "-o", so, src).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cc, err, out)
	}
	l := newLoader(t, Options{})
	p, err := l.Load(context.Background(), so)
	if err != nil {
		t.Fatal(err)
	}
	echo, err := p.Lookup("echo")
	if err != nil {
		t.Fatal(err)
	}
	echoBytes := func() []byte {
		// echo is the plugin's data, mapped for the plugin's lifetime,
		// never Go memory (the indirection tells vet so).
		a := echo.Addr
		return bytes.Clone(unsafe.Slice(*(**byte)(unsafe.Pointer(&a)), echoSize))
	}
	for _, c := range cases {
		sig, err := NewSignature(c.ret, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		f, err := p.FuncSig(c.name, sig)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, c.ret.Size())
		if err := f.CallSig(context.Background(), got, c.vals...); err != nil {
			t.Fatalf("%s %v: %v", c.name, sig, err)
		}
		gotEcho := echoBytes()
		want := direct(t, p, ffiCase{name: c.name, ret: c.ret, args: c.args, vals: c.vals})
		wantEcho := echoBytes()
		if !bytes.Equal(gotEcho, wantEcho) {
			t.Errorf("%s %v: the callee received\n% x\nfrom runplug, and from gcc's call\n% x", c.name, sig, gotEcho[:64], wantEcho[:64])
			continue
		}
		mask := dataMask(c.ret)
		for i := range want {
			if mask[i] && got[i] != want[i] {
				t.Errorf("%s %v: result % x from runplug, % x from gcc's call", c.name, sig, got, want)
				break
			}
		}
	}
}

const echoSize = 8192

type gccCase struct {
	name string
	ret  *abi.Type
	args []*abi.Type
	vals []any
}

// cgen generates C types, callees and direct callers, with their abi
// types and random argument values.
type cgen struct {
	rng     *rand.Rand
	scalars []cscalar       // the scalar types drawn from
	floats  []cscalar       // the member types of homogeneous aggregates
	decls   strings.Builder // typedefs and functions
	ntype   int
}

type cscalar struct {
	t    *abi.Type
	name string
}

var cscalars = []cscalar{
	{abi.Int8, "signed char"}, {abi.Uint8, "unsigned char"}, {abi.Int16, "short"}, {abi.Uint16, "unsigned short"},
	{abi.Int32, "int"}, {abi.Uint32, "unsigned"}, {abi.Int64, "long"}, {abi.Uint64, "unsigned long"},
	{abi.Float32, "float"}, {abi.Float64, "double"}, {abi.Pointer, "void *"},
	{abi.Int128, "__int128"},
}

// ctype is a generated C type: its name, its abi type, and the C
// statements that append its value's data bytes (expr is an lvalue) to
// echo.
type ctype struct {
	name string
	t    *abi.Type
	put  func(expr string) string
}

func scalarType(s cscalar) ctype {
	return ctype{s.name, s.t, func(e string) string {
		return fmt.Sprintf("memcpy(echo + pos, &(%s), sizeof(%s)); pos += sizeof(%s);\n", e, e, e)
	}}
}

// typ returns a random type: a scalar, or at depth < 2 sometimes a struct,
// a union, an array or a struct of one to five members of one
// floating-point type (an HFA on AArch64 up to four, in vector registers).
func (g *cgen) typ(depth int) ctype {
	r := g.rng.Intn(10)
	switch {
	case depth < 2 && r == 7:
		el := g.floats[g.rng.Intn(len(g.floats))] // float or double (or long double)
		n := 1 + g.rng.Intn(5)
		t := callconv.MustStructOf(slices.Repeat([]*abi.Type{el.t}, n)...)
		name := fmt.Sprintf("T%d", g.ntype)
		g.ntype++
		fmt.Fprintf(&g.decls, "typedef struct { %s f[%d]; } %s;\n", el.name, n, name)
		return ctype{name, t, func(e string) string {
			return fmt.Sprintf("memcpy(echo + pos, &(%s), sizeof(%s)); pos += sizeof(%s);\n", e, e, e)
		}}
	case depth < 2 && r < 5:
		n := 1 + g.rng.Intn(4)
		var ms []ctype
		var ts []*abi.Type
		for i := 0; i < n; i++ {
			m := g.typ(depth + 1)
			ms = append(ms, m)
			ts = append(ts, m.t)
		}
		t := callconv.MustStructOf(ts...)
		name := fmt.Sprintf("T%d", g.ntype)
		g.ntype++
		fmt.Fprintf(&g.decls, "typedef struct {")
		for i, m := range ms {
			fmt.Fprintf(&g.decls, " %s;", declare(m.name, fmt.Sprintf("f%d", i)))
		}
		fmt.Fprintf(&g.decls, " } %s;\n", name)
		return ctype{name, t, func(e string) string {
			var b strings.Builder
			for i, m := range ms {
				b.WriteString(m.put(fmt.Sprintf("(%s).f%d", e, i)))
			}
			return b.String()
		}}
	case depth < 2 && r == 5:
		a, b := scalarType(g.scalars[g.rng.Intn(len(g.scalars))]), scalarType(g.scalars[g.rng.Intn(len(g.scalars))])
		u, err := abi.UnionOf(a.t, b.t)
		if err != nil {
			panic(err)
		}
		name := fmt.Sprintf("T%d", g.ntype)
		g.ntype++
		fmt.Fprintf(&g.decls, "typedef union { %s a; %s b; } %s;\n", a.name, b.name, name)
		big := "a"
		if b.t.Size() > a.t.Size() {
			big = "b"
		}
		return ctype{name, u, func(e string) string {
			return fmt.Sprintf("memcpy(echo + pos, &(%s).%s, sizeof((%s).%s)); pos += sizeof((%s).%s);\n", e, big, e, big, e, big)
		}}
	case depth > 0 && r == 6:
		el := scalarType(g.scalars[g.rng.Intn(len(g.scalars))])
		n := 1 + g.rng.Intn(5)
		t, err := abi.ArrayOf(el.t, n)
		if err != nil {
			panic(err)
		}
		return ctype{fmt.Sprintf("%s[%d]", el.name, n), t, func(e string) string {
			return fmt.Sprintf("memcpy(echo + pos, (%s), sizeof(%s)); pos += sizeof(%s);\n", e, e, e)
		}}
	}
	return scalarType(g.scalars[g.rng.Intn(len(g.scalars))])
}

// declare declares name of C type tn ("int[3]" gives "int name[3]").
func declare(tn, name string) string {
	if i := strings.IndexByte(tn, '['); i >= 0 {
		return tn[:i] + " " + name + tn[i:]
	}
	return tn + " " + name
}

// value returns a random Go value for t: a scalar's Go type, or the C
// bytes of an aggregate.
func (g *cgen) value(t *abi.Type) any {
	switch callconv.KindOf(t) {
	case callconv.KindFloat32:
		return float32(g.rng.NormFloat64() * 1000)
	case callconv.KindFloat64:
		return g.rng.NormFloat64() * 1e6
	case callconv.KindPointer:
		return uintptr(g.rng.Uint64())
	case callconv.KindStruct, callconv.KindUnion, callconv.KindArray, callconv.KindInt128, callconv.KindLongDouble:
		b := make([]byte, t.Size())
		g.rng.Read(b)
		return b
	}
	return g.rng.Uint64()
}

// function generates callee fnI and its direct caller.
func (g *cgen) function(i int) gccCase {
	c := gccCase{name: fmt.Sprintf("fn%d", i)}
	var ret ctype
	for {
		ret = g.typ(0)
		if callconv.KindOf(ret.t) != callconv.KindArray {
			break
		}
	}
	c.ret = ret.t
	nargs := 1 + g.rng.Intn(12)
	var args []ctype
	for len(args) < nargs {
		a := g.typ(0)
		if callconv.KindOf(a.t) == callconv.KindArray {
			continue
		}
		args = append(args, a)
		c.args = append(c.args, a.t)
		c.vals = append(c.vals, g.value(a.t))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s(", ret.name, c.name)
	for j, a := range args {
		if j > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s a%d", a.name, j)
	}
	b.WriteString(") {\n\tsize_t pos = 0;\n")
	for j, a := range args {
		b.WriteString("\t" + a.put(fmt.Sprintf("a%d", j)))
	}
	fmt.Fprintf(&b, "\t%s r;\n\tfill(&r, sizeof r, pos);\n\treturn r;\n}\n", ret.name)
	fmt.Fprintf(&b, "void %s_direct(void **a, void *r) {\n\t*(%s *)r = %s(", c.name, ret.name, c.name)
	for j, a := range args {
		if j > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "*(%s *)a[%d]", a.name, j)
	}
	b.WriteString(");\n}\n")
	g.decls.WriteString(b.String())
	return c
}

func (g *cgen) source() string {
	return fmt.Sprintf(`// Generated by TestSignatureAgainstGCC.
#include <stddef.h>
#include <string.h>

unsigned char echo[%d];

// fill sets the result's bytes from a hash of the n argument bytes received.
static void fill(void *r, size_t size, size_t n) {
	unsigned long h = 1469598103934665603UL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ echo[i]) * 1099511628211UL;
	for (size_t i = 0; i < size; i++)
		((unsigned char *)r)[i] = (unsigned char)(h >> (8 * (i %% 8))) + (unsigned char)i;
}

%s`, echoSize, g.decls.String())
}
