package loader

import (
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"

	"github.com/runplug/runplug/abi"
	"github.com/runplug/runplug/internal/callconv"
	"github.com/runplug/runplug/internal/pcall"
)

// Signature is the C type of a function, built at run time from abi
// types: for hosts that learn signatures from a configuration or an IDL,
// as libffi's ffi_cif serves C programs. It is planned once, when made
// (which register or stack slot each argument takes, where the result
// comes back), and is safe to share between goroutines and functions.
//
// Bind0..Bind8 and Bind make the same plans from Go types; a Signature is
// for when the types are not known at compile time.
type Signature struct {
	ret  *abi.Type
	args []*abi.Type
	prog *frameProg
	// seen and seenRet remember, per argument and for the result, the
	// last Go type CallSig found to have the C layout (a reflect.Type).
	seen    []atomic.Value
	seenRet atomic.Value
}

// NewSignature returns the signature of a C function returning ret (nil
// or abi.Void: nothing) with the given argument types. Every type the abi
// package describes can be passed (a long double, which Go cannot hold, as
// its 16 bytes in a []byte, both ways); arrays, which C passes as
// pointers, are refused as arguments and results (wrap one in a struct to
// pass it by value).
func NewSignature(ret *abi.Type, args ...*abi.Type) (*Signature, error) {
	return newSignature(ret, -1, args)
}

// NewVariadicSignature returns the signature of a call of a variadic C
// function, such as int snprintf(char *, size_t, const char *, ...): the
// first nfixed argument types are the declared ones and the rest the
// variable part of this call, which gets C's default argument promotions
// (a float is passed as a double; _Bool, char and short as int) and al set
// to the number of vector registers used. Calls with a different variable
// part need a Signature each.
func NewVariadicSignature(ret *abi.Type, nfixed int, args ...*abi.Type) (*Signature, error) {
	if nfixed < 0 || nfixed > len(args) {
		return nil, &SignatureError{Symbol: "signature", Index: -2, Reason: fmt.Sprintf("%d fixed arguments of %d", nfixed, len(args))}
	}
	return newSignature(ret, nfixed, args)
}

func newSignature(ret *abi.Type, nfixed int, args []*abi.Type) (*Signature, error) {
	if ret == nil {
		ret = abi.Void
	}
	for i, t := range args {
		if t != nil && callconv.KindOf(t) == callconv.KindArray {
			return nil, &SignatureError{Symbol: "signature", Index: i, Reason: "C passes an array as a pointer: use abi.Pointer, or wrap the array in a struct to pass it by value"}
		}
	}
	if callconv.KindOf(ret) == callconv.KindArray {
		return nil, &SignatureError{Symbol: "signature", Index: -1, Reason: "a C function cannot return an array: wrap it in a struct"}
	}
	var plan *callconv.Plan
	var err error
	if nfixed >= 0 {
		plan, err = callconv.NewVariadicPlan(ret, nfixed, args...)
	} else {
		plan, err = callconv.NewPlan(ret, args...)
	}
	if err != nil {
		return nil, planError("signature", nil, err)
	}
	prog, err := compileFrame(plan)
	if err != nil {
		return nil, &SignatureError{Symbol: "signature", Index: -2, Reason: err.Error()}
	}
	return &Signature{ret: ret, args: append([]*abi.Type(nil), args...), prog: prog, seen: make([]atomic.Value, len(args))}, nil
}

// ParseSignature returns the signature of a C declaration, such as
// "double scale(double, double)" or "int f(const char *s, struct { int a;
// double b; } v)" (abi.ParseFunc's grammar; the function's name is
// optional and not kept). A variadic declaration ("int printf(const char
// *, ...)") gives the call with no variable arguments: a call that passes
// some needs NewVariadicSignature with their types.
func ParseSignature(decl string) (*Signature, error) {
	fd, err := abi.ParseFunc(decl)
	if err != nil {
		return nil, fmt.Errorf("loader: parse signature: %w", err)
	}
	args := make([]*abi.Type, len(fd.Params))
	for i, p := range fd.Params {
		args[i] = p.Type
	}
	if fd.Variadic {
		return NewVariadicSignature(fd.Result, len(args), args...)
	}
	return NewSignature(fd.Result, args...)
}

// Result returns the result type (abi.Void for none).
func (s *Signature) Result() *abi.Type { return s.ret }

// Args returns the argument types.
func (s *Signature) Args() []*abi.Type { return append([]*abi.Type(nil), s.args...) }

// Variadic reports whether the signature is a variadic call, and how many
// of its arguments are the fixed ones.
func (s *Signature) Variadic() (nfixed int, ok bool) {
	return s.prog.plan.NFixed, s.prog.plan.Variadic
}

// String returns a C declarator, e.g. "double (int32_t, struct { float; float })".
func (s *Signature) String() string {
	var b strings.Builder
	b.WriteString(s.ret.String())
	b.WriteString(" (")
	for i, t := range s.args {
		if i > 0 {
			b.WriteString(", ")
		}
		if s.prog.plan.Variadic && i == s.prog.plan.NFixed {
			b.WriteString("... ")
		}
		b.WriteString(t.String())
	}
	if s.prog.plan.Variadic && s.prog.plan.NFixed == len(s.args) {
		if len(s.args) > 0 {
			b.WriteString(", ")
		}
		b.WriteString("...")
	}
	b.WriteString(")")
	return b.String()
}

// planError turns an abi error into a *SignatureError for symbol.
func planError(symbol string, ft reflect.Type, err error) error {
	se := &SignatureError{Symbol: symbol, Type: ft, Index: -2, Reason: strings.TrimPrefix(err.Error(), "abi: "), Err: err}
	if pe, ok := err.(*callconv.PlanError); ok {
		se.Index, se.Reason = pe.Index, pe.Reason
		if pe.Type != nil {
			se.Reason = fmt.Sprintf("%v: %s", pe.Type, pe.Reason)
		}
	}
	return se
}

// FuncSig looks name up (as Func does) and returns it bound to sig: call
// it with CallSig. An isolated plugin (Plugin.Isolated) takes the same
// signatures, but for a long double result (from the x87 register st0),
// which is refused here, wrapping ErrUnsupported.
func (p *Plugin) FuncSig(name string, sig *Signature) (*Func, error) {
	if sig == nil {
		return nil, &SignatureError{Symbol: name, Index: -2, Reason: "nil *Signature"}
	}
	if err := sig.prog.remoteRefusal(); err != nil && p.be.isolated() {
		return nil, fmt.Errorf("loader: bind %s in %s: %w", name, p.obj.name, err)
	}
	f, err := p.Func(name)
	if err != nil {
		return nil, err
	}
	f.sig = sig
	return f, nil
}

// Signature returns the signature FuncSig bound f to, or nil.
func (f *Func) Signature() *Signature { return f.sig }

// argWords is the number of argument register words: a move's
// destination below it is a register (rdi..r9, then xmm0..xmm7; on arm64
// x0..x7, then d0..d7), from it on a stack word.
const argWords = pcall.GatherRegs

// retMov moves size bytes of result register reg (0 rax or x0, 1 rdx or
// x1, 2 to 5 xmm0, xmm1 or the low halves of v0..v3, 6 to 9 the high
// halves of v0..v3) to offset dst of the result.
type retMov struct {
	reg  uint8
	dst  uint32
	size uint8
}

// frameProg is a plan compiled into the moves that the trampoline makes
// from the argument values (in C layout) to the registers and stack words
// (pcall.GatherProgram), and the moves that read the result registers.
type frameProg struct {
	plan     *callconv.Plan
	gather   *pcall.GatherProgram
	rets     []retMov
	nstack   int    // stack words, the copies of values passed by reference included
	sretSize uint64 // bytes of a result in memory, 0 if none
	nvec     uint8
	x87      bool       // a long double result, from st0 (16 bytes)
	quad     bool       // a long double in a whole q register (arm64: IEEE binary128), argument or result
	byRef    []byRefArg // the values passed by reference (AAPCS64): the address of a copy in the stack words
	// For isolated plugins, which run the moves in Go (remote_frame_unsafe.go):
	moves   []pcall.GatherMove
	argWord []int32 // the frame word of each 8-byte scalar argument, else -1
	ptrArgs []int32 // the arguments of C pointer type
}

// byRefArg is an argument passed by reference (AAPCS64: a composite
// larger than 16 bytes): size bytes of argument arg, whose address goes in
// frame word word. In process the address is that of the copy in the
// stack words; an isolated plugin gets a copy in the shared memory.
type byRefArg struct {
	arg  int
	word uint32
	size uint64
}

// quadSize is the Size of a plan's Part that is a whole 128-bit vector
// register: a long double on arm64 (IEEE binary128 in a q register).
const quadSize = 16

// remoteRefusal is the error of binding fp for an isolated plugin, whose
// frame does not carry x87's st0.
func (fp *frameProg) remoteRefusal() error {
	if fp.x87 {
		return errX87Remote
	}
	return nil
}

func compileFrame(plan *callconv.Plan) (*frameProg, error) {
	nint := plan.Conv.IntArgRegs()
	if nint+plan.Conv.VecArgRegs() != argWords {
		return nil, fmt.Errorf("a %v plan: this build calls with %d argument registers", plan.Conv, argWords)
	}
	fp := &frameProg{plan: plan, nvec: uint8(plan.SSERegs)}
	retSize := plan.Result.Type.Size()
	// The caller's copies of values passed by reference lie after the
	// stack arguments, 16-byte aligned (the stack words begin at the
	// callee's 16-byte aligned sp).
	copyBase := (plan.StackSize + 15) &^ 15
	if plan.CopySize == 0 {
		copyBase = plan.StackSize
	}
	if copyBase+plan.CopySize > pcall.MaxFrameStack {
		return nil, fmt.Errorf("%d bytes of stack arguments and copies, at most %d", copyBase+plan.CopySize, pcall.MaxFrameStack)
	}
	fp.nstack = int((copyBase + plan.CopySize) / 8)
	if len(plan.Args) > 1<<16 {
		return nil, fmt.Errorf("%d arguments, at most %d", len(plan.Args), 1<<16)
	}
	if plan.Result.InMemory {
		if retSize > pcall.MaxFrameSRet {
			return nil, fmt.Errorf("a %d-byte result, at most %d", retSize, pcall.MaxFrameSRet)
		}
		fp.sretSize = retSize
	}
	for _, p := range plan.Result.Parts {
		reg := uint8(p.Reg)
		if p.Class == callconv.SSE {
			reg += 2
		}
		if p.Size == quadSize { // the low half from v(Reg), the high half after it
			fp.rets = append(fp.rets, retMov{reg: reg, dst: uint32(p.Offset), size: 8}, retMov{reg: reg + 4, dst: uint32(p.Offset) + 8, size: 8})
			fp.quad = true
			continue
		}
		fp.rets = append(fp.rets, retMov{reg: reg, dst: uint32(p.Offset), size: uint8(p.Size)})
	}
	var moves []pcall.GatherMove
	// word moves the value of argument i (size bytes from Src 0, converted
	// as conv says) to the frame words from w on, eight bytes each.
	words := func(i int, size uint64, conv uint8, w uint64) {
		for off := uint64(0); off < size; off += 8 {
			moves = append(moves, pcall.GatherMove{Arg: uint32(i), Src: uint32(off), Size: uint8(min(8, size-off)), Conv: conv, Dst: uint32(w + off/8)})
		}
	}
	for i, a := range plan.Args {
		scalar := !callconv.IsAggregate(a.Type)
		var conv uint8
		switch {
		case callconv.KindOf(a.Declared) == callconv.KindFloat32 && callconv.KindOf(a.Type) == callconv.KindFloat64:
			conv = pcall.GatherF32F64
		case scalar && callconv.KindOf(a.Declared).IsSigned() && a.Declared.Size() < 8:
			conv = pcall.GatherSext
		}
		size := a.Declared.Size()
		if a.ByRef {
			// The copy, then its address where the plan puts the pointer.
			c := (copyBase + a.CopyOffset) / 8
			words(i, size, 0, argWords+c)
			addr := pcall.GatherMove{Arg: uint32(i), Src: uint32(c), Size: 8, Conv: pcall.GatherStackAddr}
			if a.OnStack {
				addr.Dst = uint32(argWords + a.Offset/8)
			} else {
				addr.Dst = uint32(a.Parts[0].Reg)
			}
			moves = append(moves, addr)
			fp.byRef = append(fp.byRef, byRefArg{arg: i, word: addr.Dst, size: size})
			continue
		}
		if a.OnStack {
			words(i, size, conv, argWords+a.Offset/8)
			continue
		}
		for _, p := range a.Parts {
			m := pcall.GatherMove{Arg: uint32(i), Src: uint32(p.Offset), Size: uint8(min(p.Size, size-p.Offset)), Conv: conv, Dst: uint32(p.Reg)}
			if p.Class == callconv.SSE {
				m.Dst += uint32(nint)
			}
			if p.Size == quadSize { // a long double: both halves of v(Reg)
				m.Size = 8
				moves = append(moves, m, pcall.GatherMove{Arg: m.Arg, Src: m.Src + 8, Size: 8, Conv: pcall.GatherHigh, Dst: m.Dst})
				fp.quad = true
				continue
			}
			moves = append(moves, m)
		}
	}
	fp.moves = moves
	fp.argWord = make([]int32, len(plan.Args))
	for i := range fp.argWord {
		fp.argWord[i] = -1
	}
	for _, m := range moves {
		if m.Size == 8 && plan.Args[m.Arg].Declared.Size() == 8 && !callconv.IsAggregate(plan.Args[m.Arg].Type) {
			fp.argWord[m.Arg] = int32(m.Dst)
		}
	}
	for i, a := range plan.Args {
		if callconv.KindOf(a.Declared) == callconv.KindPointer {
			fp.ptrArgs = append(fp.ptrArgs, int32(i))
		}
	}
	g, err := pcall.NewGatherProgram(moves, len(plan.Args), fp.nstack, fp.nvec, uintptr(fp.sretSize))
	if err != nil {
		return nil, err
	}
	if plan.Result.X87 {
		fp.x87 = true
		g = g.X87Result()
	}
	if fp.quad {
		g = g.QuadRegs()
	}
	fp.gather = g
	return fp, nil
}
