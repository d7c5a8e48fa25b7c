package loader

import (
	"errors"
	"sync/atomic"
)

// Functions of a Live: each is the plugin's Func of the same name, found
// again in every version, and a call reaches the version serving when it
// starts (one atomic load). A call that a reload
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

// Func returns name as a function of the serving version of the plugin
// and of every later one: each call through it (Call, or a binding made
// from it) reaches the version serving when the call starts, at the cost
// of one atomic load. A call that a reload turned away before it ran is
// made again on the new version, so a reload fails no call. A reload
// whose build lacks name fails and leaves the old version serving.
func (lv *Live) Func(name string) (*Func, error) {
	c, err := liveBind(lv, func(p *Plugin) (*Func, error) { return p.Func(name) })
	if err != nil {
		return nil, err
	}
	return &Func{name: name, live: c}, nil
}
