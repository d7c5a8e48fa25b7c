package pcall

import (
	"bytes"
	"context"
	"errors"
	"math"
	"runtime"
	"testing"
	"unsafe"
)

// The gather image holds the integer argument registers, then eight
// vector registers (rdi..r9 and xmm0..xmm7, or x0..x7 and d0..d7).
const (
	frameIntRegs = GatherRegs - 8
	frameVec0    = frameIntRegs
)

// setFrameInts puts integer arguments in f from register from on: Int,
// then More (x6 and x7 on arm64), then the stack words.
func setFrameInts(f *Frame, from int, vals ...uint64) {
	f.Stack = nil
	for i, v := range vals {
		switch r := from + i; {
		case r < len(f.Int):
			f.Int[r] = v
		case r < frameIntRegs:
			f.More[r-len(f.Int)] = v
		default:
			f.Stack = append(f.Stack, v)
		}
	}
}

// TestCallFrameSnprintf calls glibc's snprintf, a variadic function, with
// a hand-made Frame: three fixed integer arguments, then doubles in the
// first two vector registers (al = 2 on amd64), then more integers than
// registers remain (stack words), through a gate as the loader's calls go.
func TestCallFrameSnprintf(t *testing.T) {
	needCallFrame(t)
	snprintf := hostSym(t, "libc.so.6", "snprintf", "")
	buf := make([]byte, 128)
	format := []byte("%.1f %.2f %d %d %d %d %d %d %d\x00")
	var pin runtime.Pinner
	pin.Pin(&buf[0])
	pin.Pin(&format[0])
	defer pin.Unpin()
	f := Frame{NVec: 2}
	f.Int[0], f.Int[1], f.Int[2] = uint64(uintptr(unsafe.Pointer(&buf[0]))), uint64(len(buf)), uint64(uintptr(unsafe.Pointer(&format[0])))
	setFrameInts(&f, 3, 1, 2, 3, 4, 5, 6, 7)
	f.Float[0], f.Float[1] = 1.5, -0.25
	g := NewGate()
	r, err := g.CallFrame(context.Background(), snprintf, &f)
	if err != nil {
		t.Fatal(err)
	}
	const want = "1.5 -0.25 1 2 3 4 5 6 7"
	if got := string(buf[:bytes.IndexByte(buf, 0)]); got != want || r.RAX != uint64(len(want)) {
		t.Errorf("snprintf = %q (%d), want %q", got, r.RAX, want)
	}
	// An odd number of stack words keeps the callee's stack aligned:
	// glibc's printf of a double uses aligned SSE stores.
	setFrameInts(&f, 3, 1, 2, 3, 4, 5, 6)
	copy(format, "%.1f %.2f %d %d %d %d %d %d\x00")
	if len(f.Stack)%2 != 1 {
		t.Fatalf("%d stack words, want an odd number", len(f.Stack))
	}
	if _, err := g.CallFrame(nil, snprintf, &f); err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:bytes.IndexByte(buf, 0)]); got != "1.5 -0.25 1 2 3 4 5 6" {
		t.Errorf("snprintf = %q", got)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := g.CallFrame(nil, snprintf, &f); !errors.Is(err, ErrGateClosed) {
		t.Errorf("call through a closed gate: %v", err)
	}
}

// TestCallFrameResultRegisters: ldiv returns a 16-byte struct in rax:rdx
// (x0:x1); frexp's double comes back in xmm0 (d0).
func TestCallFrameResultRegisters(t *testing.T) {
	needCallFrame(t)
	ldiv := hostSym(t, "libc.so.6", "ldiv", "")
	f := Frame{}
	f.Int[0], f.Int[1] = uint64(47), uint64(5)
	r, err := CallFrame(nil, ldiv, &f)
	if err != nil || r.RAX != 9 || r.RDX != 2 {
		t.Errorf("ldiv(47, 5) = {%d, %d}, %v; want {9, 2}", r.RAX, r.RDX, err)
	}
	frexp := hostSym(t, "libm.so.6", "frexp", "")
	var exp int32
	var pin runtime.Pinner
	pin.Pin(&exp)
	defer pin.Unpin()
	f = Frame{}
	f.Float[0] = 48
	f.Int[0] = uint64(uintptr(unsafe.Pointer(&exp)))
	r, err = CallFrame(nil, frexp, &f)
	if m := math.Float64frombits(r.XMM0); err != nil || m != 0.75 || exp != 6 {
		t.Errorf("frexp(48) = %v, %d, %v; want 0.75, 6", m, exp, err)
	}
}

func TestCallFrameBounds(t *testing.T) {
	needCallFrame(t)
	f := Frame{Stack: make([]uint64, MaxFrameStack/8+1)}
	if _, err := CallFrame(nil, fixtureAdd(), &f); !errors.Is(err, ErrFrame) {
		t.Errorf("too many stack words: %v", err)
	}
	var b [8]byte
	f = Frame{SRet: unsafe.Pointer(&b[0])}
	if _, err := CallFrame(nil, fixtureAdd(), &f); !errors.Is(err, ErrFrame) {
		t.Errorf("SRet without a size: %v", err)
	}
	f = Frame{}
	f.Int[0], f.Int[1] = 40, 2
	if r, err := CallFrame(nil, fixtureAdd(), &f); err != nil || r.RAX != 42 {
		t.Errorf("add(40, 2) = %d, %v", r.RAX, err)
	}
}

// TestCallGather calls glibc's snprintf with arguments the trampoline
// gathers from Go values: pointers and a size in registers, a float
// widened to double, a narrow signed integer sign-extended, and words on
// the stack.
func TestCallGather(t *testing.T) {
	needCallFrame(t)
	snprintf := hostSym(t, "libc.so.6", "snprintf", "")
	buf := make([]byte, 128)
	format := []byte("%.2f %d %d %d %d %d %d %d\x00")
	var pin runtime.Pinner
	pin.Pin(&buf[0])
	pin.Pin(&format[0])
	defer pin.Unpin()
	bufp, n, fmtp := uint64(uintptr(unsafe.Pointer(&buf[0]))), uint64(len(buf)), uint64(uintptr(unsafe.Pointer(&format[0])))
	f32, i8 := float32(0.75), int8(-3)
	w := [6]int64{10, 20, 30, 40, 50, 60}
	moves := []GatherMove{
		{Arg: 0, Dst: 0, Size: 8}, {Arg: 1, Dst: 1, Size: 8}, {Arg: 2, Dst: 2, Size: 8},
		{Arg: 3, Dst: frameVec0, Size: 4, Conv: GatherF32F64},
		{Arg: 4, Dst: 3, Size: 1, Conv: GatherSext},
	}
	// w's words in the integer registers left, then on the stack.
	nstack := 0
	for i := range w {
		m := GatherMove{Arg: 5, Src: uint32(8 * i), Dst: uint32(4 + i), Size: 8}
		if 4+i >= frameIntRegs {
			m.Dst = uint32(GatherRegs + nstack)
			nstack++
		}
		moves = append(moves, m)
	}
	p, err := NewGatherProgram(moves, 6, nstack, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	args := []unsafe.Pointer{unsafe.Pointer(&bufp), unsafe.Pointer(&n), unsafe.Pointer(&fmtp), unsafe.Pointer(&f32), unsafe.Pointer(&i8), unsafe.Pointer(&w)}
	r, err := NewGate().CallGather(nil, snprintf, p, args, nil)
	const want = "0.75 -3 10 20 30 40 50 60"
	if got := string(buf[:bytes.IndexByte(buf, 0)]); err != nil || got != want || r.RAX != uint64(len(want)) {
		t.Errorf("snprintf = %q (%d), %v; want %q", got, r.RAX, err, want)
	}
	if _, err := NewGate().CallGather(nil, snprintf, p, args[:5], nil); !errors.Is(err, ErrFrame) {
		t.Errorf("too few arguments: %v", err)
	}
}

// TestNewGatherProgram: a move that would read or write out of bounds is
// refused when the program is made.
func TestNewGatherProgram(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    GatherMove
		sret uintptr
	}{
		{"argument past the values", GatherMove{Arg: 2, Dst: 1, Size: 8}, 0},
		{"no bytes", GatherMove{Dst: 1}, 0},
		{"nine bytes", GatherMove{Dst: 1, Size: 9}, 0},
		{"stack word past the area", GatherMove{Dst: GatherRegs + 2, Size: 8}, 0},
		{"float widening of 8 bytes", GatherMove{Dst: frameVec0, Size: 8, Conv: GatherF32F64}, 0},
		{"unknown conversion", GatherMove{Dst: 1, Size: 4, Conv: 7}, 0},
		{"address of a stack word past the area", GatherMove{Dst: 1, Src: 2, Size: 8, Conv: GatherStackAddr}, 0},
		{"address of 4 bytes", GatherMove{Dst: 1, Size: 4, Conv: GatherStackAddr}, 0},
		{"high half of an integer register", GatherMove{Dst: 1, Size: 8, Conv: GatherHigh}, 0},
		{"high half of a stack word", GatherMove{Dst: GatherRegs, Size: 8, Conv: GatherHigh}, 0},
		{"high half of 4 bytes", GatherMove{Dst: frameVec0, Size: 4, Conv: GatherHigh}, 0},
	} {
		if _, err := NewGatherProgram([]GatherMove{tc.m}, 2, 2, 0, tc.sret); !errors.Is(err, ErrFrame) {
			t.Errorf("%s: %v, want ErrFrame", tc.name, err)
		}
	}
	if _, err := NewGatherProgram([]GatherMove{{Arg: 1, Dst: GatherRegs + 1, Size: 3}}, 2, 2, 0, 24); err != nil {
		t.Errorf("a valid program: %v", err)
	}
	// The result buffer's address takes rdi on amd64; arm64 passes it in
	// x8, and x0 is free.
	_, err := NewGatherProgram([]GatherMove{{Dst: 0, Size: 8}}, 2, 2, 0, 24)
	if sretInArgReg != errors.Is(err, ErrFrame) {
		t.Errorf("a move to the first integer register with a result in memory: %v", err)
	}
	// Only arm64 passes values by reference, or in a q register whole.
	_, err = NewGatherProgram([]GatherMove{{Dst: 0, Src: 1, Size: 8, Conv: GatherStackAddr}}, 1, 2, 0, 0)
	if (maxGatherConv >= GatherStackAddr) != (err == nil) {
		t.Errorf("a stack address move: %v", err)
	}
	_, err = NewGatherProgram([]GatherMove{{Dst: GatherRegs - 1, Size: 8, Conv: GatherHigh}}, 1, 0, 0, 0)
	if (maxGatherConv >= GatherHigh) != (err == nil) {
		t.Errorf("a move to the high half of the last vector register: %v", err)
	}
}

// TestCallGatherQuad passes and returns long doubles (IEEE binary128 on
// arm64) in whole q registers through glibc: strtold returns one in q0,
// and strfroml formats one it takes in q0 beside three x registers. The
// same calls without QuadRegs see the high halves cleared.
func TestCallGatherQuad(t *testing.T) {
	needCallFrame(t)
	if vecHiResults == 0 {
		t.Skipf("%s has no long double in vector registers (x87)", runtime.GOARCH)
	}
	strtold := hostSym(t, "libc.so.6", "strtold", "")
	strfroml := hostSym(t, "libc.so.6", "strfroml", "")
	// 2.25 in binary128: exponent 0x4000, fraction .001 (binary).
	want := [2]uint64{0, 0x4000200000000000}
	in := []byte("2.25\x00")
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(&in[0])
	inp, end := uint64(uintptr(unsafe.Pointer(&in[0]))), uint64(0)
	for _, quad := range []bool{true, false} {
		p, err := NewGatherProgram([]GatherMove{{Arg: 0, Dst: 0, Size: 8}, {Arg: 1, Dst: 1, Size: 8}}, 2, 0, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if quad {
			p = p.QuadRegs()
		}
		r, err := NewGate().CallGather(nil, strtold, p, []unsafe.Pointer{unsafe.Pointer(&inp), unsafe.Pointer(&end)}, nil)
		hi := r.VHi[:] // none on amd64 (skipped above)
		got := [2]uint64{r.XMM0, hi[0]}
		if quad && (err != nil || got != want) {
			t.Errorf("strtold(\"2.25\") = %#x, %v; want %#x", got, err, want)
		}
		if !quad && (err != nil || got[1] != 0) {
			t.Errorf("strtold without QuadRegs: high half %#x, %v; want none", got[1], err)
		}
	}
	buf := make([]byte, 32)
	format := []byte("%.3f\x00")
	pin.Pin(&buf[0])
	pin.Pin(&format[0])
	bufp, n, fmtp := uint64(uintptr(unsafe.Pointer(&buf[0]))), uint64(len(buf)), uint64(uintptr(unsafe.Pointer(&format[0])))
	moves := []GatherMove{
		{Arg: 0, Dst: 0, Size: 8}, {Arg: 1, Dst: 1, Size: 8}, {Arg: 2, Dst: 2, Size: 8},
		{Arg: 3, Dst: frameVec0, Size: 8}, {Arg: 3, Src: 8, Dst: frameVec0, Size: 8, Conv: GatherHigh},
	}
	p, err := NewGatherProgram(moves, 4, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p    *GatherProgram
		want string
	}{{p.QuadRegs(), "2.250"}, {p, "0.000"}} { // without: the high half (sign, exponent) is lost
		r, err := NewGate().CallGather(nil, strfroml, tc.p, []unsafe.Pointer{unsafe.Pointer(&bufp), unsafe.Pointer(&n), unsafe.Pointer(&fmtp), unsafe.Pointer(&want)}, nil)
		if got := string(buf[:bytes.IndexByte(buf, 0)]); err != nil || got != tc.want || r.RAX != uint64(len(tc.want)) {
			t.Errorf("strfroml(%%.3f, 2.25) = %q (%d), %v; want %q", got, r.RAX, err, tc.want)
		}
	}
}

// TestCallGatherByReference passes a string by reference the way arm64
// passes a large struct: moves copy it into the stack words, and a
// GatherStackAddr move gives strlen the copy's address.
func TestCallGatherByReference(t *testing.T) {
	needCallFrame(t)
	if maxGatherConv < GatherStackAddr {
		t.Skipf("%s passes nothing by reference", runtime.GOARCH)
	}
	strlen := hostSym(t, "libc.so.6", "strlen", "")
	s := []byte("copied to the stack words, passed by reference\x00")
	var moves []GatherMove
	// The copy begins at stack word 1, after a word the callee would find
	// as its first stack argument.
	for off := 0; off < len(s); off += 8 {
		moves = append(moves, GatherMove{Arg: 0, Src: uint32(off), Dst: uint32(GatherRegs + 1 + off/8), Size: uint8(min(8, len(s)-off))})
	}
	moves = append(moves, GatherMove{Dst: 0, Src: 1, Size: 8, Conv: GatherStackAddr})
	nstack := 1 + (len(s)+7)/8
	p, err := NewGatherProgram(moves, 1, nstack, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewGate().CallGather(nil, strlen, p, []unsafe.Pointer{unsafe.Pointer(&s[0])}, nil)
	if err != nil || r.RAX != uint64(len(s)-1) {
		t.Errorf("strlen of the copy = %d, %v; want %d", r.RAX, err, len(s)-1)
	}
}
