package pcall

// ReportPanic records e as the panic of a call of c made outside any
// protected call (see Callback): it becomes Err if it is the first, and
// goes to the panic handler. It is for a caller that ran c's Go function
// elsewhere (package isolate runs a Callback's function in the host for a
// call made in another process).
func (c *Callback) ReportPanic(e *HostPanicError) {
	c.fail(e, new(Args), false, false)
}
