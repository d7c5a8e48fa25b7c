package loader

// This file lays out a general call of an isolated plugin: it runs the
// signature's trampoline moves in Go (reading each argument's bytes
// through unsafe.Pointer, as the trampoline does) to fill the frame words
// that the other process then calls with, and views Go values passed by
// address (a slice, a *T, whose element types hold no Go pointers) as the
// bytes that are copied across. The invariant that keeps it right is
// signature_unsafe.go's: compileFrame clipped every move to its
// argument's declared size, and NewGatherProgram checked every
// destination against the frame's words.

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"unsafe"

	"github.com/runplug/runplug/internal/callconv"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/wire"
)

// argBuf is Go memory passed by address as argument arg.
type argBuf struct {
	arg  int
	data []byte
	out  bool
}

// loadBytes reads size (1-8) bytes at p, little-endian.
func loadBytes(p unsafe.Pointer, size uint8) uint64 {
	switch size {
	case 8:
		return *(*uint64)(p)
	case 4:
		return uint64(*(*uint32)(p))
	case 2:
		return uint64(*(*uint16)(p))
	case 1:
		return uint64(*(*uint8)(p))
	}
	var v uint64
	for i := uint8(0); i < size; i++ {
		v |= uint64(*(*uint8)(unsafe.Add(p, i))) << (8 * i)
	}
	return v
}

// remoteFrame runs the moves on args into a RemoteFrame.
func (fp *frameProg) remoteFrame(args []unsafe.Pointer) *wire.RemoteFrame {
	fr := &wire.RemoteFrame{NVec: fp.nvec, Quad: fp.quad}
	if fp.nstack > 0 {
		fr.Stack = make([]uint64, fp.nstack)
	}
	for _, m := range fp.moves {
		if m.Conv == pcall.GatherStackAddr {
			continue // the address of a copy: remoteCall passes it as a buffer
		}
		v := loadBytes(unsafe.Add(args[m.Arg], m.Src), m.Size)
		switch m.Conv {
		case pcall.GatherSext:
			sh := 64 - 8*uint(m.Size)
			v = uint64(int64(v<<sh) >> sh)
		case pcall.GatherF32F64:
			v = math.Float64bits(float64(math.Float32frombits(uint32(v))))
		}
		switch {
		case m.Conv == pcall.GatherHigh: // arm64: the high half of v(Dst-GatherVec)
			fr.VHi[m.Dst-pcall.GatherVec] = v
		case m.Dst < argWords:
			fr.Regs[m.Dst] = v
		default:
			fr.Stack[m.Dst-argWords] = v
		}
	}
	return fr
}

// frameWord returns frame word w of fr.
func frameWord(fr *wire.RemoteFrame, w int) uint64 {
	if w < argWords {
		return fr.Regs[w]
	}
	return fr.Stack[w-argWords]
}

// remoteCall is call (signature_unsafe.go) for an isolated plugin: bufs
// are the arguments that pass Go memory by address.
func (fp *frameProg) remoteCall(ctx context.Context, f *Func, args []unsafe.Pointer, out unsafe.Pointer, bufs []argBuf) error {
	if fp.x87 { // refused at bind time already
		return fmt.Errorf("loader: call %s: %w", f.name, errX87Remote)
	}
	fr := fp.remoteFrame(args)
	for _, b := range bufs {
		w := fp.argWord[b.arg]
		if w < 0 { // cannot happen: only pointer arguments carry buffers
			return fmt.Errorf("loader: call %s: argument %d is not a pointer", f.name, b.arg)
		}
		fr.Bufs = append(fr.Bufs, wire.FrameBuffer{Word: int(w), Data: b.data, Out: b.out})
	}
	for _, r := range fp.byRef {
		// The callee's copy of the value, in the shared memory (the
		// callee may write it; the caller never sees that). Copied here
		// first: args must not reach the Remote (see SRet below).
		data := make([]byte, r.size)
		copy(data, unsafe.Slice((*byte)(args[r.arg]), r.size))
		fr.Bufs = append(fr.Bufs, wire.FrameBuffer{Word: int(r.word), Data: data})
	}
	if nLive.Load() != 0 {
		for _, i := range fp.ptrArgs {
			if w := fp.argWord[i]; w >= 0 {
				if rc := callbackAt(frameWord(fr, int(w))); rc != nil {
					fr.Callbacks = append(fr.Callbacks, wire.FrameCallback{Word: int(w), CB: rc})
				}
			}
		}
	}
	if fp.sretSize != 0 {
		// A buffer of its own, copied to out after the call: out itself
		// must not reach the Remote (an interface), or escape analysis
		// moves every caller's result to the heap, in process too.
		fr.SRet = make([]byte, fp.sretSize)
	}
	r, err := f.p.be.callRemoteFrame(ctx, f, fr)
	if err != nil || out == nil {
		return err
	}
	if fp.sretSize != 0 {
		copy(unsafe.Slice((*byte)(out), fp.sretSize), fr.SRet)
		return nil
	}
	res := [resultRegs]uint64{r.RAX, r.RDX, r.XMM0, r.XMM1}
	copy(res[4:], r.V23[:]) // arm64: v2, v3
	copy(res[6:], r.VHi[:]) // arm64, with Quad: the high halves of v0..v3
	for _, m := range fp.rets {
		storeBytes(unsafe.Add(out, m.dst), res[m.reg], m.size)
	}
	return nil
}

// remoteGenCopies is callGenCopies for an isolated plugin: each string
// argument is a NUL-terminated copy in the memory both processes share,
// each []byte a copy there, copied back after the call.
func (b *binding) remoteGenCopies(ctx context.Context, out unsafe.Pointer, args []unsafe.Pointer) error {
	bufs := make([]argBuf, 0, len(b.strArgs)+len(b.bufArgs))
	var zero uint64
	for _, i := range b.strArgs {
		s := *(*string)(args[i])
		buf := make([]byte, len(s)+1)
		copy(buf, s)
		bufs = append(bufs, argBuf{arg: i, data: buf})
		args[i] = unsafe.Pointer(&zero)
	}
	for _, i := range b.bufArgs {
		if buf := *(*[]byte)(args[i]); len(buf) > 0 {
			bufs = append(bufs, argBuf{arg: i, data: buf, out: true})
		}
		args[i] = unsafe.Pointer(&zero)
	}
	return b.gen.remoteCall(ctx, b.f, args, out, bufs)
}

// callSigRemote is CallSig for an isolated plugin: the values are laid
// out as in process, but Go memory passed by address (a string, a slice,
// a *T) is a copy in the shared memory, copied back after the call (but
// for strings).
func (f *Func) callSigRemote(ctx context.Context, ret any, args []any) error {
	s := f.sig
	var pin runtime.Pinner // cValue's, for values that are not pointers: unused
	defer pin.Unpin()
	ptrs := make([]unsafe.Pointer, len(args))
	var bufs []argBuf
	for i, v := range args {
		t := s.args[i]
		if callconv.KindOf(t) == callconv.KindPointer {
			if data, out, ok, err := goBytes(v); ok {
				if err != nil {
					return fmt.Errorf("loader: call %s: argument %d: %w", f.name, i, err)
				}
				bufs = append(bufs, argBuf{arg: i, data: data, out: out})
				ptrs[i] = unsafe.Pointer(new(uint64))
				continue
			}
		}
		p, err := cValue(t, v, &pin, &s.seen[i])
		if err != nil {
			return fmt.Errorf("loader: call %s: argument %d: %w", f.name, i, err)
		}
		ptrs[i] = p
	}
	out, finish, err := cResult(s.ret, ret, &s.seenRet)
	if err != nil {
		return fmt.Errorf("loader: call %s: result: %w", f.name, err)
	}
	if err := s.prog.remoteCall(ctx, f, ptrs, out, bufs); err != nil {
		return err
	}
	if finish != nil {
		finish()
	}
	return nil
}

// goBytes returns the bytes of a CallSig pointer value that is Go memory
// (ok): a string (a NUL-terminated copy, not copied back), a non-empty
// slice or a non-nil pointer whose element type holds no Go pointers
// (the memory itself, copied back: out).
func goBytes(v any) (data []byte, out, ok bool, err error) {
	if v == nil {
		return nil, false, false, nil
	}
	if _, isCB := v.(*Callback); isCB {
		return nil, false, false, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		b := make([]byte, rv.Len()+1)
		copy(b, rv.String())
		return b, false, true, nil
	case reflect.Slice, reflect.Pointer:
		if rv.IsNil() || rv.Kind() == reflect.Slice && rv.Len() == 0 {
			return nil, false, false, nil
		}
		et := rv.Type().Elem()
		if _, err := goCType(et); err != nil {
			return nil, false, true, fmt.Errorf("%T: %w", v, err)
		}
		n := int(et.Size())
		if rv.Kind() == reflect.Slice {
			n *= rv.Len()
		}
		return unsafe.Slice((*byte)(rv.UnsafePointer()), n), true, true, nil
	}
	return nil, false, false, nil
}
