package loader

// Bindings through a Live: each is the plugin binding of the same name
// (Bind0...), made again for every version, and a call reaches the
// version serving when it starts (one atomic load). A call that a reload
// turned away from the old version before it ran (ErrClosed from a
// version no longer current: the function did not run) is made again on
// the new one, so a reload never fails a call.

// liveBind adds a binding made by bind to lv (see Live.bind).
func liveBind[F any](lv *Live, bind func(*Plugin) (F, error)) (int, error) {
	return lv.bind(func(p *Plugin) (any, error) {
		f, err := bind(p)
		if err != nil {
			return nil, err
		}
		return f, nil
	})
}

// LiveBind0 is Bind0 through a Live: the function calls the serving
// version of the plugin.
func LiveBind0[R any](lv *Live, name string) (func() (R, error), error) {
	id, err := liveBind(lv, func(p *Plugin) (func() (R, error), error) { return Bind0[R](p, name) })
	if err != nil {
		return nil, err
	}
	return func() (R, error) {
		for {
			v := lv.cur.Load()
			r, err := v.fns[id].(func() (R, error))()
			if err == nil || !lv.again(v, err) {
				return r, err
			}
		}
	}, nil
}

// LiveBind1 is Bind1 through a Live: the function calls the serving
// version of the plugin. A reload whose build lacks name (or binds it
// with another error) fails and leaves the old version serving.
func LiveBind1[A1, R any](lv *Live, name string) (func(A1) (R, error), error) {
	id, err := liveBind(lv, func(p *Plugin) (func(A1) (R, error), error) { return Bind1[A1, R](p, name) })
	if err != nil {
		return nil, err
	}
	return func(a1 A1) (R, error) {
		for {
			v := lv.cur.Load()
			r, err := v.fns[id].(func(A1) (R, error))(a1)
			if err == nil || !lv.again(v, err) {
				return r, err
			}
		}
	}, nil
}

// LiveBind2 is Bind2 through a Live: the function calls the serving
// version of the plugin.
func LiveBind2[A1, A2, R any](lv *Live, name string) (func(A1, A2) (R, error), error) {
	id, err := liveBind(lv, func(p *Plugin) (func(A1, A2) (R, error), error) { return Bind2[A1, A2, R](p, name) })
	if err != nil {
		return nil, err
	}
	return func(a1 A1, a2 A2) (R, error) {
		for {
			v := lv.cur.Load()
			r, err := v.fns[id].(func(A1, A2) (R, error))(a1, a2)
			if err == nil || !lv.again(v, err) {
				return r, err
			}
		}
	}, nil
}

// LiveBind3 is Bind3 through a Live: the function calls the serving
// version of the plugin.
func LiveBind3[A1, A2, A3, R any](lv *Live, name string) (func(A1, A2, A3) (R, error), error) {
	id, err := liveBind(lv, func(p *Plugin) (func(A1, A2, A3) (R, error), error) { return Bind3[A1, A2, A3, R](p, name) })
	if err != nil {
		return nil, err
	}
	return func(a1 A1, a2 A2, a3 A3) (R, error) {
		for {
			v := lv.cur.Load()
			r, err := v.fns[id].(func(A1, A2, A3) (R, error))(a1, a2, a3)
			if err == nil || !lv.again(v, err) {
				return r, err
			}
		}
	}, nil
}

// LiveBind4 is Bind4 through a Live: the function calls the serving
// version of the plugin.
func LiveBind4[A1, A2, A3, A4, R any](lv *Live, name string) (func(A1, A2, A3, A4) (R, error), error) {
	id, err := liveBind(lv, func(p *Plugin) (func(A1, A2, A3, A4) (R, error), error) { return Bind4[A1, A2, A3, A4, R](p, name) })
	if err != nil {
		return nil, err
	}
	return func(a1 A1, a2 A2, a3 A3, a4 A4) (R, error) {
		for {
			v := lv.cur.Load()
			r, err := v.fns[id].(func(A1, A2, A3, A4) (R, error))(a1, a2, a3, a4)
			if err == nil || !lv.again(v, err) {
				return r, err
			}
		}
	}, nil
}

// LiveBind5 is Bind5 through a Live: the function calls the serving
// version of the plugin.
func LiveBind5[A1, A2, A3, A4, A5, R any](lv *Live, name string) (func(A1, A2, A3, A4, A5) (R, error), error) {
	id, err := liveBind(lv, func(p *Plugin) (func(A1, A2, A3, A4, A5) (R, error), error) {
		return Bind5[A1, A2, A3, A4, A5, R](p, name)
	})
	if err != nil {
		return nil, err
	}
	return func(a1 A1, a2 A2, a3 A3, a4 A4, a5 A5) (R, error) {
		for {
			v := lv.cur.Load()
			r, err := v.fns[id].(func(A1, A2, A3, A4, A5) (R, error))(a1, a2, a3, a4, a5)
			if err == nil || !lv.again(v, err) {
				return r, err
			}
		}
	}, nil
}

// LiveBind6 is Bind6 through a Live: the function calls the serving
// version of the plugin.
func LiveBind6[A1, A2, A3, A4, A5, A6, R any](lv *Live, name string) (func(A1, A2, A3, A4, A5, A6) (R, error), error) {
	id, err := liveBind(lv, func(p *Plugin) (func(A1, A2, A3, A4, A5, A6) (R, error), error) {
		return Bind6[A1, A2, A3, A4, A5, A6, R](p, name)
	})
	if err != nil {
		return nil, err
	}
	return func(a1 A1, a2 A2, a3 A3, a4 A4, a5 A5, a6 A6) (R, error) {
		for {
			v := lv.cur.Load()
			r, err := v.fns[id].(func(A1, A2, A3, A4, A5, A6) (R, error))(a1, a2, a3, a4, a5, a6)
			if err == nil || !lv.again(v, err) {
				return r, err
			}
		}
	}, nil
}

// LiveFunc is a function of a Live plugin (Live.Func): Call reaches the
// serving version.
type LiveFunc struct {
	lv   *Live
	id   int
	name string
}

// Func returns name as a function of the serving version of the plugin,
// and of every later one (see LiveBind1).
func (lv *Live) Func(name string) (*LiveFunc, error) {
	id, err := liveBind(lv, func(p *Plugin) (*Func, error) { return p.Func(name) })
	if err != nil {
		return nil, err
	}
	return &LiveFunc{lv: lv, id: id, name: name}, nil
}

// Name returns the function's symbol name.
func (f *LiveFunc) Name() string { return f.name }

// Call is Func.Call on the serving version.
func (f *LiveFunc) Call(args ...uint64) (uint64, error) {
	for {
		v := f.lv.cur.Load()
		r, err := v.fns[f.id].(*Func).Call(args...)
		if err == nil || !f.lv.again(v, err) {
			return r, err
		}
	}
}
