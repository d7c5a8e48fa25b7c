package pcall

// StackArgs returns the address of the stack arguments of the native call
// that reached a callback whose Go function (of any form) received a: the
// first of them is the callee's 8(%rsp) at entry, the psABI's argument
// area, as a FrameFunc gets it. a must be the *Args the callback received,
// and the address is valid during that call only. (Package isolate's
// child forwards the stack arguments of calls whose shape it learns after
// the callback was made.)
func StackArgs(a *Args) uintptr { return stackArgs(a) }
