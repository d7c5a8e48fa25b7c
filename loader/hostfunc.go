package loader

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/wire"
)

// Host functions: Go functions that plugins import by C name. (A Go
// function passed to native code as a function pointer instead is a
// Callback, callback.go; both take the same typed or raw functions,
// turned into the raw form by hostCallback.)
//
// Each registered function is a pcall.Callback (a thunk in an
// executable page that calls into Go on the plugin's thread). An import of
// its name binds to the thunk's address, and the object that imports it
// holds a reference until its image can no longer run (it is unmapped, or
// becomes a PROT_NONE tombstone). Releasing a registration removes the
// name for later loads at once and frees the thunk when the last object
// bound to it goes: a plugin that still imports the function keeps
// working until it is closed.

// ErrHostFuncExists is wrapped by RegisterHostFunc's error for a name that
// is already registered with the Loader, and by AddHostSymbols' for a name
// the host already supplies.
var ErrHostFuncExists = errors.New("loader: host function already registered")

// hostTable is a Loader's registered host functions and the objects bound
// to them. Lock order: Loader.mu, then hostTable.mu.
type hostTable struct {
	mu     sync.Mutex
	closed bool
	fns    map[string]*hostFunc
	users  map[*object][]*hostFunc
}

// hostFunc is one registration.
type hostFunc struct {
	name     string
	cb       *pcall.Callback
	raw      wire.RawHostFunc // fn as registered, for isolated plugins (remote.go)
	strs     uint8            // integer registers that carry C strings (remote.go)
	frame    remoteFrame      // the general form, for isolated plugins (remote_frame.go)
	refs     int              // objects bound to it
	released bool             // no longer in the table; freed when refs reaches 0
}

// RegisterHostFunc makes fn callable by plugins loaded afterwards under
// the C name name: an import of name (of any version) binds to it, after
// Options.HostSymbols and before the plugin's dependencies and the host C
// libraries. fn is either a wire.RawHostFunc, or a func whose arguments are
// bool, integers, uintptr, unsafe.Pointer, float32, float64 (or types
// defined on them), string (a const char * from the plugin, copied; NULL
// is "") or structs by value of C layout, any number of them, with no
// result or one result of those types other than string (see Callback
// for how structs and stack arguments are passed, and for a last *VarArgs
// parameter, which makes the C type variadic). The typed form is called
// without reflect or allocation (string arguments aside) when its
// arguments fit Go's argument registers (see Callback), and through
// reflect otherwise.
//
// fn runs on the plugin's thread, inside the plugin call that reached it
// but outside its fault protection: a nil dereference in fn is a Go panic.
// A panic in fn is recovered: the outer plugin call returns an error that
// wraps a *HostPanicError (pcall.ErrHostPanic) and the plugin is
// quarantined, as after a fault. On a thread in no plugin call (one the
// plugin created) there is no call to end: fn's caller gets 0 and the
// panic is logged at error level. fn may call into plugins again, and may
// call release, but not Load or Close of this Loader (which hold its lock
// while constructors run).
//
// release forgets the name (later loads no longer see it) and frees the
// function's thunk once no loaded object is bound to it: plugins that
// import it keep working until they are closed. It is safe to call twice.
// Loader.Close releases every registration.
func (l *Loader) RegisterHostFunc(name string, fn any) (release func(), err error) {
	if name == "" || strings.IndexByte(name, 0) >= 0 {
		return nil, fmt.Errorf("loader: register host function %q: invalid name", name)
	}
	hf, err := hostCallback(name, fn)
	if err != nil {
		return nil, fmt.Errorf("loader: register host function %q: %w", name, err)
	}
	t := &l.host
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, fmt.Errorf("loader: register host function %q: %w", name, ErrClosed)
	}
	if t.fns[name] != nil {
		return nil, fmt.Errorf("loader: register host function %q: %w", name, ErrHostFuncExists)
	}
	cb, err := hf.callback(name)
	if err != nil {
		return nil, fmt.Errorf("loader: register host function %q: %w", name, err)
	}
	// A panic on a thread in no plugin call (one the plugin created) has
	// no call to end: the plugin gets 0, and the host hears of it here.
	cb.SetPanicHandler(func(e *HostPanicError) {
		l.log.Error("host function panicked outside a plugin call; it returned 0", "symbol", name, "panic", fmt.Sprint(e.Value))
	})
	h := &hostFunc{name: name, cb: cb, raw: hf.rawForm(), strs: hostStringSlots(fn), frame: frameForm(hf, fn)}
	if t.fns == nil {
		t.fns = map[string]*hostFunc{}
		t.users = map[*object][]*hostFunc{}
	}
	t.fns[name] = h
	l.log.Debug("registered host function", "symbol", name, "addr", fmt.Sprintf("%#x", cb.Addr()))
	var once sync.Once
	return func() { once.Do(func() { t.release(h) }) }, nil
}

// release removes h from the table and frees it if nothing is bound to it.
func (t *hostTable) release(h *hostFunc) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.releaseLocked(h)
}

func (t *hostTable) releaseLocked(h *hostFunc) {
	if h.released {
		return
	}
	h.released = true
	if t.fns[h.name] == h {
		delete(t.fns, h.name)
	}
	if h.refs == 0 {
		h.cb.Free()
	}
}

// bind returns the address of host function name for an import of o and
// records that o is bound to it. l.mu is held.
func (t *hostTable) bind(o *object, name string) (uintptr, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.fns[name]
	if h == nil {
		return 0, false
	}
	for _, x := range t.users[o] {
		if x == h {
			return h.cb.Addr(), true
		}
	}
	t.users[o] = append(t.users[o], h)
	h.refs++
	return h.cb.Addr(), true
}

// drop releases o's bindings: its image can no longer run (unmapped or a
// tombstone). Released functions nobody is bound to any more are freed.
func (t *hostTable) drop(o *object) {
	t.mu.Lock()
	defer t.mu.Unlock()
	hs, ok := t.users[o]
	if !ok {
		return
	}
	delete(t.users, o)
	for _, h := range hs {
		h.refs--
		if h.released && h.refs == 0 {
			h.cb.Free()
		}
	}
}

// close releases every registration (Loader.Close, after its plugins were
// closed) and refuses new ones.
func (t *hostTable) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for _, h := range t.fns {
		t.releaseLocked(h)
	}
}

// hostFn is a host function or a callback in a form the sandbox calls.
type hostFn struct {
	raw          wire.RawHostFunc
	ints         pcall.IntFunc   // before raw (which is set too): integer registers in, rax out
	regs         pcall.RegFunc   // instead of raw: takes the registers as they are
	nInt, nFloat int             // the arguments regs takes
	frame        pcall.FrameFunc // instead of raw: also reads stack arguments (callback_unsafe.go)
	sret         bool            // frame's result goes through the caller's buffer
}

// callback returns a pcall.Callback that runs h.
func (h hostFn) callback(name string) (*pcall.Callback, error) {
	if h.ints != nil {
		return pcall.NewCallbackInts(name, h.ints, h.nInt)
	}
	if h.regs != nil {
		return pcall.NewCallbackRegs(name, h.regs, h.nInt, h.nFloat)
	}
	if h.frame != nil {
		return pcall.NewCallbackFrame(name, h.frame, h.sret)
	}
	return pcall.NewCallback(name, h.raw)
}

// hostCallback turns fn (a wire.RawHostFunc or a typed func) into the form the
// sandbox calls: the typed func itself in register form when its
// arguments need no conversion (see regPlan.regsForm), else a raw one.
func hostCallback(name string, fn any) (hostFn, error) {
	if raw, ok := fn.(wire.RawHostFunc); ok {
		if raw == nil {
			return hostFn{}, errors.New("nil function")
		}
		return hostFn{raw: raw}, nil
	}
	fv := reflect.ValueOf(fn)
	if !fv.IsValid() || fv.Kind() != reflect.Func {
		return hostFn{}, &SignatureError{Symbol: name, Index: -2, Reason: fmt.Sprintf("want a func, got %T", fn)}
	}
	if fv.IsNil() {
		return hostFn{}, errors.New("nil function")
	}
	ft := fv.Type()
	if ft.IsVariadic() {
		return hostFn{}, &SignatureError{Symbol: name, Type: ft, Index: -2, Reason: "a Go variadic func cannot take C's variable arguments: take a *loader.VarArgs last"}
	}
	if ft.NumOut() > 1 {
		return hostFn{}, &SignatureError{Symbol: name, Type: ft, Index: -1, Reason: "at most one result"}
	}
	args := make([]reflect.Type, ft.NumIn())
	for i := range args {
		args[i] = ft.In(i)
	}
	var res reflect.Type
	if ft.NumOut() == 1 {
		res = ft.Out(0)
	}
	if n := len(args); n > 0 && args[n-1] == varArgsType {
		// A variadic C type: the general form reads the variable part.
		frame, sret, err := frameHostFunc(name, ft, fv, args, res)
		if err != nil {
			return hostFn{}, err
		}
		return hostFn{frame: frame, sret: sret}, nil
	}
	s, err := newSig(name, ft, args, res)
	if err != nil {
		// Not a register signature: stack arguments or structs by value
		// take the general form, planned by internal/callconv (whose refusal,
		// naming the field at fault, is the error).
		frame, sret, ferr := frameHostFunc(name, ft, fv, args, res)
		if ferr != nil {
			return hostFn{}, ferr
		}
		return hostFn{frame: frame, sret: sret}, nil
	}
	if p := newRegPlan(s, fv); p != nil {
		if p.regsForm() {
			if ints := p.intsForm(fv); ints != nil {
				// raw too: the form rawForm gives isolated plugins.
				return hostFn{ints: ints, nInt: s.nInt, raw: p.rawFunc()}, nil
			}
			return hostFn{regs: p.fn, nInt: s.nInt, nFloat: s.nFloat}, nil
		}
		return hostFn{raw: p.rawFunc()}, nil
	}
	return hostFn{raw: reflectHostFunc(s, fv, args)}, nil
}

// reflectHostFunc is the general form of a typed host function: it calls
// fv through reflect (a few allocations per call), for the signatures
// newRegPlan does not take.
func reflectHostFunc(s *sig, fv reflect.Value, args []reflect.Type) wire.RawHostFunc {
	return func(a *pcall.Args) pcall.Result {
		in := make([]reflect.Value, s.n)
		for i := range in {
			in[i] = hostArg(s, i, args[i], a)
		}
		out := fv.Call(in)
		if len(out) == 0 {
			return pcall.Result{}
		}
		return hostResult(s.res, out[0])
	}
}
