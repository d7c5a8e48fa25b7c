package loader

import (
	"errors"
	"sync/atomic"
)

// Bindings through a Live: each is the plugin binding of the same name
// (Bind0...), made again for every version, and a call reaches the
// version serving when it starts (one atomic load). A call that a reload
// turned away from the old version before it ran (ErrClosed from a
// version no longer current: the function did not run) is made again on
// the new one, so a reload never fails a call.

// liveCell is one binding through a Live: the function bound in the
// serving version, swapped by reloads.
type liveCell[F any] struct {
	cur  atomic.Pointer[liveFn[F]]
	bind func(*Plugin) (F, error)
	lv   *Live
}

// liveFn is a binding's function in one version.
type liveFn[F any] struct{ fn F }

// liveBind adds a binding made by bind to lv.
func liveBind[F any](lv *Live, bind func(*Plugin) (F, error)) (*liveCell[F], error) {
	c := &liveCell[F]{bind: bind, lv: lv}
	if err := lv.bind(c); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *liveCell[F]) prepare(p *Plugin) (func(), error) {
	f, err := c.bind(p)
	if err != nil {
		return nil, err
	}
	next := &liveFn[F]{fn: f}
	return func() { c.cur.Store(next) }, nil
}

// again reports whether a call through f that failed with err should be
// made again: the call was refused because f's version is closing
// (ErrClosed: the function did not run) and a reload replaced f, or a
// handover is under way (then it waits for its end).
func (c *liveCell[F]) again(f *liveFn[F], err error) bool {
	if !errors.Is(err, ErrClosed) {
		return false
	}
	if c.cur.Load() != f {
		return true
	}
	if h := c.lv.handing.Load(); h != nil {
		<-*h
		return true
	}
	return false
}

// LiveFunc is a function of a Live plugin (Live.Func): Call reaches the
// serving version.
type LiveFunc struct {
	c    *liveCell[*Func]
	name string
}

// Func returns name as a function of the serving version of the plugin,
// and of every later one (see LiveBind1).
func (lv *Live) Func(name string) (*LiveFunc, error) {
	c, err := liveBind(lv, func(p *Plugin) (*Func, error) { return p.Func(name) })
	if err != nil {
		return nil, err
	}
	return &LiveFunc{c: c, name: name}, nil
}

// Name returns the function's symbol name.
func (f *LiveFunc) Name() string { return f.name }

// Call is Func.Call on the serving version.
func (f *LiveFunc) Call(args ...uint64) (uint64, error) {
	for {
		fn := f.c.cur.Load()
		r, err := fn.fn.Call(args...)
		if err == nil || !f.c.again(fn, err) {
			return r, err
		}
	}
}
