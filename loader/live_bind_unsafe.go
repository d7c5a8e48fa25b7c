package loader

import (
	"reflect"
	"unsafe"

	"github.com/runplug/runplug/internal/pcall"
)

// The typed bindings through a Live. A signature of register arguments
// only (the common case, decided by the types, so the same in every
// version) is called the way Bind0... call it, from the binding of the
// serving version that the Live's cell holds: no second closure on the
// call path. Other signatures call the serving version's Bind0...
// function. unsafe: arguments are stored through their addresses, as in
// bind_gen.go.

// LiveBind0 is Bind0 through a Live (see LiveBind1).
func LiveBind0[R any](lv *Live, name string) (func() (R, error), error) {
	sig := func(p *Plugin) (*binding, error) { return bindSig(p, name, nil, nil, reflect.TypeFor[R]()) }
	probe, err := sig(lv.Plugin())
	if err != nil {
		return nil, err
	}
	if probe.gen != nil {
		c, err := liveBind(lv, func(p *Plugin) (func() (R, error), error) { return Bind0[R](p, name) })
		if err != nil {
			return nil, err
		}
		return func() (R, error) {
			for {
				f := c.cur.Load()
				r, err := f.fn()
				if err == nil || !c.again(f, err) {
					return r, err
				}
			}
		}, nil
	}
	regs, err := liveBind(lv, sig)
	if err != nil {
		return nil, err
	}
	return func() (R, error) {
		for {
			f := regs.cur.Load()
			b := f.fn
			var a pcall.Args
			ks := b.strs()
			r, err := b.call(&a, ks)
			if err == nil || !regs.again(f, err) {
				return result[R](b, r, err)
			}
		}
	}, nil
}

// LiveBind1 is Bind1 through a Live: the function calls the serving
// version of the plugin. A reload whose build lacks name (or binds it
// with another error) fails and leaves the old version serving.
func LiveBind1[A1, R any](lv *Live, name string) (func(A1) (R, error), error) {
	sig := func(p *Plugin) (*binding, error) {
		return bindSig(p, name, nil, typesOf(reflect.TypeFor[A1]()), reflect.TypeFor[R]())
	}
	probe, err := sig(lv.Plugin())
	if err != nil {
		return nil, err
	}
	if probe.gen != nil {
		c, err := liveBind(lv, func(p *Plugin) (func(A1) (R, error), error) { return Bind1[A1, R](p, name) })
		if err != nil {
			return nil, err
		}
		return func(a1 A1) (R, error) {
			for {
				f := c.cur.Load()
				r, err := f.fn(a1)
				if err == nil || !c.again(f, err) {
					return r, err
				}
			}
		}, nil
	}
	regs, err := liveBind(lv, sig)
	if err != nil {
		return nil, err
	}
	return func(a1 A1) (R, error) {
		for {
			f := regs.cur.Load()
			b := f.fn
			var a pcall.Args
			ks := b.strs()
			b.put(&a, 0, unsafe.Pointer(&a1), ks)
			r, err := b.call(&a, ks)
			if err == nil || !regs.again(f, err) {
				return result[R](b, r, err)
			}
		}
	}, nil
}

// LiveBind2 is Bind2 through a Live (see LiveBind1).
func LiveBind2[A1, A2, R any](lv *Live, name string) (func(A1, A2) (R, error), error) {
	sig := func(p *Plugin) (*binding, error) {
		return bindSig(p, name, nil, typesOf(reflect.TypeFor[A1](), reflect.TypeFor[A2]()), reflect.TypeFor[R]())
	}
	probe, err := sig(lv.Plugin())
	if err != nil {
		return nil, err
	}
	if probe.gen != nil {
		c, err := liveBind(lv, func(p *Plugin) (func(A1, A2) (R, error), error) { return Bind2[A1, A2, R](p, name) })
		if err != nil {
			return nil, err
		}
		return func(a1 A1, a2 A2) (R, error) {
			for {
				f := c.cur.Load()
				r, err := f.fn(a1, a2)
				if err == nil || !c.again(f, err) {
					return r, err
				}
			}
		}, nil
	}
	regs, err := liveBind(lv, sig)
	if err != nil {
		return nil, err
	}
	return func(a1 A1, a2 A2) (R, error) {
		for {
			f := regs.cur.Load()
			b := f.fn
			var a pcall.Args
			ks := b.strs()
			b.put(&a, 0, unsafe.Pointer(&a1), ks)
			b.put(&a, 1, unsafe.Pointer(&a2), ks)
			r, err := b.call(&a, ks)
			if err == nil || !regs.again(f, err) {
				return result[R](b, r, err)
			}
		}
	}, nil
}

// LiveBind3 is Bind3 through a Live (see LiveBind1).
func LiveBind3[A1, A2, A3, R any](lv *Live, name string) (func(A1, A2, A3) (R, error), error) {
	sig := func(p *Plugin) (*binding, error) {
		return bindSig(p, name, nil, typesOf(reflect.TypeFor[A1](), reflect.TypeFor[A2](), reflect.TypeFor[A3]()), reflect.TypeFor[R]())
	}
	probe, err := sig(lv.Plugin())
	if err != nil {
		return nil, err
	}
	if probe.gen != nil {
		c, err := liveBind(lv, func(p *Plugin) (func(A1, A2, A3) (R, error), error) { return Bind3[A1, A2, A3, R](p, name) })
		if err != nil {
			return nil, err
		}
		return func(a1 A1, a2 A2, a3 A3) (R, error) {
			for {
				f := c.cur.Load()
				r, err := f.fn(a1, a2, a3)
				if err == nil || !c.again(f, err) {
					return r, err
				}
			}
		}, nil
	}
	regs, err := liveBind(lv, sig)
	if err != nil {
		return nil, err
	}
	return func(a1 A1, a2 A2, a3 A3) (R, error) {
		for {
			f := regs.cur.Load()
			b := f.fn
			var a pcall.Args
			ks := b.strs()
			b.put(&a, 0, unsafe.Pointer(&a1), ks)
			b.put(&a, 1, unsafe.Pointer(&a2), ks)
			b.put(&a, 2, unsafe.Pointer(&a3), ks)
			r, err := b.call(&a, ks)
			if err == nil || !regs.again(f, err) {
				return result[R](b, r, err)
			}
		}
	}, nil
}

// LiveBind4 is Bind4 through a Live (see LiveBind1).
func LiveBind4[A1, A2, A3, A4, R any](lv *Live, name string) (func(A1, A2, A3, A4) (R, error), error) {
	sig := func(p *Plugin) (*binding, error) {
		return bindSig(p, name, nil, typesOf(reflect.TypeFor[A1](), reflect.TypeFor[A2](), reflect.TypeFor[A3](), reflect.TypeFor[A4]()), reflect.TypeFor[R]())
	}
	probe, err := sig(lv.Plugin())
	if err != nil {
		return nil, err
	}
	if probe.gen != nil {
		c, err := liveBind(lv, func(p *Plugin) (func(A1, A2, A3, A4) (R, error), error) { return Bind4[A1, A2, A3, A4, R](p, name) })
		if err != nil {
			return nil, err
		}
		return func(a1 A1, a2 A2, a3 A3, a4 A4) (R, error) {
			for {
				f := c.cur.Load()
				r, err := f.fn(a1, a2, a3, a4)
				if err == nil || !c.again(f, err) {
					return r, err
				}
			}
		}, nil
	}
	regs, err := liveBind(lv, sig)
	if err != nil {
		return nil, err
	}
	return func(a1 A1, a2 A2, a3 A3, a4 A4) (R, error) {
		for {
			f := regs.cur.Load()
			b := f.fn
			var a pcall.Args
			ks := b.strs()
			b.put(&a, 0, unsafe.Pointer(&a1), ks)
			b.put(&a, 1, unsafe.Pointer(&a2), ks)
			b.put(&a, 2, unsafe.Pointer(&a3), ks)
			b.put(&a, 3, unsafe.Pointer(&a4), ks)
			r, err := b.call(&a, ks)
			if err == nil || !regs.again(f, err) {
				return result[R](b, r, err)
			}
		}
	}, nil
}

// LiveBind5 is Bind5 through a Live (see LiveBind1).
func LiveBind5[A1, A2, A3, A4, A5, R any](lv *Live, name string) (func(A1, A2, A3, A4, A5) (R, error), error) {
	sig := func(p *Plugin) (*binding, error) {
		return bindSig(p, name, nil, typesOf(reflect.TypeFor[A1](), reflect.TypeFor[A2](), reflect.TypeFor[A3](), reflect.TypeFor[A4](), reflect.TypeFor[A5]()), reflect.TypeFor[R]())
	}
	probe, err := sig(lv.Plugin())
	if err != nil {
		return nil, err
	}
	if probe.gen != nil {
		c, err := liveBind(lv, func(p *Plugin) (func(A1, A2, A3, A4, A5) (R, error), error) {
			return Bind5[A1, A2, A3, A4, A5, R](p, name)
		})
		if err != nil {
			return nil, err
		}
		return func(a1 A1, a2 A2, a3 A3, a4 A4, a5 A5) (R, error) {
			for {
				f := c.cur.Load()
				r, err := f.fn(a1, a2, a3, a4, a5)
				if err == nil || !c.again(f, err) {
					return r, err
				}
			}
		}, nil
	}
	regs, err := liveBind(lv, sig)
	if err != nil {
		return nil, err
	}
	return func(a1 A1, a2 A2, a3 A3, a4 A4, a5 A5) (R, error) {
		for {
			f := regs.cur.Load()
			b := f.fn
			var a pcall.Args
			ks := b.strs()
			b.put(&a, 0, unsafe.Pointer(&a1), ks)
			b.put(&a, 1, unsafe.Pointer(&a2), ks)
			b.put(&a, 2, unsafe.Pointer(&a3), ks)
			b.put(&a, 3, unsafe.Pointer(&a4), ks)
			b.put(&a, 4, unsafe.Pointer(&a5), ks)
			r, err := b.call(&a, ks)
			if err == nil || !regs.again(f, err) {
				return result[R](b, r, err)
			}
		}
	}, nil
}

// LiveBind6 is Bind6 through a Live (see LiveBind1).
func LiveBind6[A1, A2, A3, A4, A5, A6, R any](lv *Live, name string) (func(A1, A2, A3, A4, A5, A6) (R, error), error) {
	sig := func(p *Plugin) (*binding, error) {
		return bindSig(p, name, nil, typesOf(reflect.TypeFor[A1](), reflect.TypeFor[A2](), reflect.TypeFor[A3](), reflect.TypeFor[A4](), reflect.TypeFor[A5](), reflect.TypeFor[A6]()), reflect.TypeFor[R]())
	}
	probe, err := sig(lv.Plugin())
	if err != nil {
		return nil, err
	}
	if probe.gen != nil {
		c, err := liveBind(lv, func(p *Plugin) (func(A1, A2, A3, A4, A5, A6) (R, error), error) {
			return Bind6[A1, A2, A3, A4, A5, A6, R](p, name)
		})
		if err != nil {
			return nil, err
		}
		return func(a1 A1, a2 A2, a3 A3, a4 A4, a5 A5, a6 A6) (R, error) {
			for {
				f := c.cur.Load()
				r, err := f.fn(a1, a2, a3, a4, a5, a6)
				if err == nil || !c.again(f, err) {
					return r, err
				}
			}
		}, nil
	}
	regs, err := liveBind(lv, sig)
	if err != nil {
		return nil, err
	}
	return func(a1 A1, a2 A2, a3 A3, a4 A4, a5 A5, a6 A6) (R, error) {
		for {
			f := regs.cur.Load()
			b := f.fn
			var a pcall.Args
			ks := b.strs()
			b.put(&a, 0, unsafe.Pointer(&a1), ks)
			b.put(&a, 1, unsafe.Pointer(&a2), ks)
			b.put(&a, 2, unsafe.Pointer(&a3), ks)
			b.put(&a, 3, unsafe.Pointer(&a4), ks)
			b.put(&a, 4, unsafe.Pointer(&a5), ks)
			b.put(&a, 5, unsafe.Pointer(&a6), ks)
			r, err := b.call(&a, ks)
			if err == nil || !regs.again(f, err) {
				return result[R](b, r, err)
			}
		}
	}, nil
}
