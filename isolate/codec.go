//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"encoding/binary"
	"errors"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/wire"
)

// The request and the reply cross the shared memory in a plain binary
// form: little-endian integers, a string or byte slice as a 32-bit length
// and its bytes, a list as a 32-bit count and its items. (encoding/json
// cost a child ~150 µs of its start, most of it reflecting on each type
// the first time; a LoadBytes image would also have gone as base64.)
// The host decodes the reply of a child that may be hostile: every length
// and count is checked against what is left.

var errShort = errors.New("truncated or malformed")

type encoder struct{ b []byte }

func (e *encoder) u8(v uint8)   { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16) { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }

func (e *encoder) bool(v bool) {
	if v {
		e.u8(1)
	} else {
		e.u8(0)
	}
}

func (e *encoder) bytes(b []byte) {
	e.u32(uint32(len(b)))
	e.b = append(e.b, b...)
}

func (e *encoder) str(s string) {
	e.u32(uint32(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) strs(ss []string) {
	e.u32(uint32(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

// optStrs is strs for a list whose nil and empty differ (loader.Options'
// AllowC: nil allows every C symbol, empty none): a presence flag first.
func (e *encoder) optStrs(ss []string) {
	e.bool(ss != nil)
	if ss != nil {
		e.strs(ss)
	}
}

func (e *encoder) filter(f []unix.SockFilter) {
	e.u32(uint32(len(f)))
	for _, in := range f {
		e.u16(in.Code)
		e.u8(in.Jt)
		e.u8(in.Jf)
		e.u32(in.K)
	}
}

// decoder reads what encoder wrote; after the first error every read
// returns zero values and err stays set.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n uint64) []byte {
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() uint8 {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if b := d.take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if b := d.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) bool() bool {
	v := d.u8()
	if v > 1 {
		d.err = errShort
	}
	return v == 1
}

// count reads a list's length, each item at least min bytes: a count the
// rest cannot hold is an error (no allocation sized by hostile input).
func (d *decoder) count(min uint64) int {
	n := uint64(d.u32())
	if d.err == nil && n*min > uint64(len(d.b)) {
		d.err = errShort
	}
	if d.err != nil {
		return 0
	}
	return int(n)
}

func (d *decoder) bytes() []byte {
	b := d.take(uint64(d.u32()))
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...) // not an alias of the shared memory
}

func (d *decoder) str() string { return string(d.take(uint64(d.u32()))) }

func (d *decoder) strs() []string {
	n := d.count(4)
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.str()
	}
	return ss
}

// optStrs reads what encoder.optStrs wrote.
func (d *decoder) optStrs() []string {
	if !d.bool() {
		return nil
	}
	if ss := d.strs(); ss != nil {
		return ss
	}
	return []string{}
}

func (d *decoder) filter() []unix.SockFilter {
	n := d.count(8)
	if n == 0 {
		return nil
	}
	f := make([]unix.SockFilter, n)
	for i := range f {
		f[i] = unix.SockFilter{Code: d.u16(), Jt: d.u8(), Jf: d.u8(), K: d.u32()}
	}
	return f
}

func (r *request) marshal() []byte {
	var e encoder
	e.str(r.Path)
	e.str(r.Name)
	e.bytes(r.Image)
	lo := &r.Loader
	e.optStrs(lo.SearchPath)
	e.u64(lo.GuardSize)
	e.bool(lo.NoHostC)
	e.optStrs(lo.AllowC)
	e.bool(lo.AllowWriteExec)
	e.u32(uint32(len(r.Host)))
	for _, h := range r.Host {
		e.str(h.Name)
		e.u8(h.Strings)
	}
	e.u32(uint32(len(r.Syms)))
	for _, k := range r.Syms {
		e.str(k.Name)
		e.str(k.Version)
	}
	pol := &r.Policy
	e.strs(pol.Allow)
	e.bool(pol.AllowOpen)
	e.u64(pol.Memory)
	e.u64(uint64(pol.CPUTime))
	e.u32(uint32(pol.Threads))
	e.bool(pol.NoNamespaces)
	e.bool(pol.NoSeccomp)
	e.filter(r.LoadFilter)
	e.filter(r.RunFilter)
	e.bool(r.State != nil)
	if r.State != nil {
		e.str(r.State.Name)
		e.slot(r.State.Slot)
		e.bool(r.State.From != nil)
		if r.State.From != nil {
			e.slot(*r.State.From)
		}
	}
	return e.b
}

func (e *encoder) slot(s wire.StateSlot) {
	e.u64(s.Off)
	e.u64(s.Size)
	e.u64(s.TypeSize)
	e.u32(s.Version)
}

func (d *decoder) slot() wire.StateSlot {
	return wire.StateSlot{Off: d.u64(), Size: d.u64(), TypeSize: d.u64(), Version: d.u32()}
}

func (r *request) unmarshal(b []byte) error {
	d := decoder{b: b}
	r.Path = d.str()
	r.Name = d.str()
	r.Image = d.bytes()
	lo := &r.Loader
	lo.SearchPath = d.optStrs()
	lo.GuardSize = d.u64()
	lo.NoHostC = d.bool()
	lo.AllowC = d.optStrs()
	lo.AllowWriteExec = d.bool()
	if n := d.count(5); n > 0 {
		r.Host = make([]hostFunc, n)
		for i := range r.Host {
			r.Host[i] = hostFunc{Name: d.str(), Strings: d.u8()}
		}
	}
	if n := d.count(8); n > 0 {
		r.Syms = make([]symKey, n)
		for i := range r.Syms {
			r.Syms[i] = symKey{Name: d.str(), Version: d.str()}
		}
	}
	pol := &r.Policy
	pol.Allow = d.strs()
	pol.AllowOpen = d.bool()
	pol.Memory = d.u64()
	pol.CPUTime = time.Duration(d.u64())
	pol.Threads = int(d.u32())
	pol.NoNamespaces = d.bool()
	pol.NoSeccomp = d.bool()
	r.LoadFilter = d.filter()
	r.RunFilter = d.filter()
	if d.bool() {
		r.State = &stateReq{Name: d.str(), Slot: d.slot()}
		if d.bool() {
			f := d.slot()
			r.State.From = &f
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errShort
	}
	return d.err
}

func (r *reply) marshal() []byte {
	var e encoder
	e.str(r.Name)
	e.bytes(r.Err)
	e.u32(uint32(len(r.Syms)))
	for _, s := range r.Syms {
		e.u64(s.Addr)
		e.u64(s.Size)
		e.bool(s.Func)
		e.str(s.Version)
	}
	e.bool(r.Seccomp)
	e.u32(r.NSFlags)
	e.str(r.NSErr)
	e.u32(r.UID)
	e.u32(r.Landlock)
	e.str(r.ConfineErr)
	return e.b
}

func (r *reply) unmarshal(b []byte) error {
	d := decoder{b: b}
	r.Name = d.str()
	r.Err = d.bytes()
	if n := d.count(21); n > 0 {
		r.Syms = make([]symReply, n)
		for i := range r.Syms {
			r.Syms[i] = symReply{Addr: d.u64(), Size: d.u64(), Func: d.bool(), Version: d.str()}
		}
	}
	r.Seccomp = d.bool()
	r.NSFlags = d.u32()
	r.NSErr = d.str()
	r.UID = d.u32()
	r.Landlock = d.u32()
	r.ConfineErr = d.str()
	if d.err == nil && len(d.b) != 0 {
		d.err = errShort
	}
	return d.err
}
