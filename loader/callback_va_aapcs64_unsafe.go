package loader

import (
	"runtime/debug"
	"unsafe"

	"github.com/runplug/runplug/internal/callconv"
)

// readAAPCS64 reads the next variable argument, of C type t, into dst.
// On Linux AArch64 the variable part of a call travels as named
// arguments do, so the argument is where the planner puts a named one
// after those taken so far (callconv.AAPCS64State.Next): in x or v
// registers that the entry saved (x6 and x7 among the MoreRegs), in a
// stack slot of the caller's argument area, or, for a composite larger
// than 16 bytes, as the address of the caller's copy. A read past the
// caller's stack, or through a bad copy's address, is a Go panic, not a
// crash.
//
// The caller's stack arguments begin at its sp, 16-byte aligned, so the
// planner's stack offset is the next slot's offset within its 16 bytes:
// VarArgs keeps the address alone, as for SysV.
func (v *VarArgs) readAAPCS64(dst unsafe.Pointer, t *callconv.Type) error {
	base := v.stack &^ 15
	st := callconv.AAPCS64State{NGRN: int(v.gp), NSRN: int(v.fp), NSAA: uint64(v.stack - base)}
	loc, err := st.Next(t)
	if err != nil {
		return err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	readArg(dst, &loc, v.a, base)
	v.gp, v.fp, v.stack = uint8(st.NGRN), uint8(st.NSRN), base+uintptr(st.NSAA)
	return nil
}
