//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"reflect"
	"strings"
	"syscall"

	"github.com/runplug/runplug/elfmap"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/tlsrt"
	"github.com/runplug/runplug/loader"
)

// An error crosses from the child to the host as a tree of nodes, each a
// kind byte and that kind's fields (codec.go's integers and strings):
// runplug's typed errors with every field a host reads, its sentinels by
// code, errno values, path errors, and for any other error its message and
// what it wraps. The host rebuilds the same types and sentinels, so
// errors.Is and errors.As answer for an isolated plugin as they do in
// process, and the message reads the same.
//
// The child may be hostile: the decoder checks every length against what
// is left (codec.go), bounds the depth and the number of nodes, and
// refuses an unknown kind or sentinel code, a missing node where one is
// required, and trailing bytes.

// Node kinds. The numbers are the wire format: append, never renumber.
const (
	kindNil        = 0 // no error (an optional field)
	kindText       = 1 // a message, wrapping nothing
	kindWrap       = 2 // a message and the errors it wraps
	kindSentinel   = 3 // one of sentinels, by code
	kindErrno      = 4 // a syscall.Errno
	kindPath       = 5 // an *fs.PathError
	kindFault      = 6 // a *sandbox.FaultError
	kindDeadline   = 7 // a *sandbox.DeadlineError
	kindHostPanic  = 8 // a *pcall.HostPanicError
	kindNotFound   = 9 // a *loader.NotFoundError
	kindUndefined  = 10
	kindReloc      = 11
	kindRefused    = 12
	kindSignature  = 13
	kindStateFile  = 14
	kindMigration  = 15
	kindFormat     = 16 // an *elfmap.FormatError
	kindExecutable = 17 // an *elfmap.ExecutableError
	kindAbort      = 18 // a *pcall.AbortError
	kindStaticTLS  = 19 // a *tlsrt.StaticTLSError
)

// Bounds on a tree: runplug's errors nest a few levels (a wrapped
// RefusedError wrapping a FormatError wrapping a sentinel). The encoder
// sends a deeper or larger one flat; the decoder refuses it.
const (
	maxErrDepth = 16
	maxErrNodes = 128
)

// sentinels are the errors that cross by code. The codes are the wire
// format: append, never renumber (0 is none).
var sentinels = []error{
	1:  loader.ErrSymbolNotFound,
	2:  loader.ErrTLS,
	3:  loader.ErrNotFound,
	4:  loader.ErrClosed,
	5:  loader.ErrQuarantined,
	6:  loader.ErrSignature,
	7:  elfmap.ErrMalformed,
	8:  loader.ErrUnsupported,
	9:  pcall.ErrAborted,
	10: ErrBufferTooLarge,
	11: loader.ErrBadAddress,
	12: loader.ErrNoMemory,
	13: loader.ErrStateLayout,
	14: loader.ErrStateFile,
	15: loader.ErrStateBusy,
	16: loader.ErrMigration,
	17: loader.ErrHostFuncExists,
	18: loader.ErrDeadline,
	19: pcall.ErrHostPanic,
	20: pcall.ErrCallbackFreed,
	21: tlsrt.ErrStaticTLSFull,
	22: pcall.ErrCloseInCall,
	23: elfmap.ErrExecutable,
	24: context.Canceled,
	25: context.DeadlineExceeded,
	26: errors.ErrUnsupported,
	27: ErrTooDeep,
	28: io.EOF,
	29: io.ErrUnexpectedEOF,
	30: fs.ErrNotExist,
	31: fs.ErrPermission,
	32: loader.ErrReload,
	33: ErrPolicyTooSmall,
}

// sentinelCode returns err's code when it is one of sentinels (0: not).
func sentinelCode(err error) uint16 {
	for i, s := range sentinels {
		if s != nil && err == s {
			return uint16(i)
		}
	}
	return 0
}

// encodeError encodes err in at most limit bytes. A tree that does not
// fit (in limit, maxErrDepth or maxErrNodes) is sent flat: its message,
// cut to fit, and the sentinels it matches.
func encodeError(err error, limit int) []byte {
	w := errWriter{nodes: maxErrNodes}
	w.node(err, 0)
	if !w.overflow && len(w.b) <= limit {
		return w.b
	}
	w = errWriter{}
	var codes []uint16
	for i, s := range sentinels {
		if s != nil && errors.Is(err, s) {
			codes = append(codes, uint16(i))
		}
	}
	room := limit - 1 - 4 - 4 - 3*len(codes)
	if room < 0 {
		codes, room = nil, max(limit-1-4, 0)
		w.u8(kindText)
		w.str(cut(err.Error(), room))
		return w.b
	}
	w.u8(kindWrap)
	w.str(cut(err.Error(), room))
	w.u32(uint32(len(codes)))
	for _, c := range codes {
		w.u8(kindSentinel)
		w.u16(c)
	}
	return w.b
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// errWriter encodes one tree; nodes is what is left of maxErrNodes, and
// overflow says the tree went past a bound (it is then sent flat).
type errWriter struct {
	encoder
	nodes    int
	overflow bool
}

func (w *errWriter) node(err error, depth int) {
	if err == nil {
		w.u8(kindNil)
		return
	}
	if w.nodes--; w.nodes < 0 || depth >= maxErrDepth || w.overflow {
		w.overflow = true
		return
	}
	if c := sentinelCode(err); c != 0 {
		w.u8(kindSentinel)
		w.u16(c)
		return
	}
	d := depth + 1
	switch e := err.(type) {
	case syscall.Errno:
		w.u8(kindErrno)
		w.u64(uint64(e))
	case *fs.PathError:
		w.u8(kindPath)
		w.str(e.Op)
		w.str(e.Path)
		w.node(e.Err, d)
	case *pcall.FaultError:
		w.u8(kindFault)
		w.u32(uint32(int32(e.Signal)))
		w.u32(uint32(e.Code))
		w.u64(uint64(e.Addr))
		w.u64(uint64(e.PC))
		w.str(e.Plugin)
		w.str(e.Symbol)
		w.str(e.Object)
		w.str(e.Where)
	case *pcall.DeadlineError:
		w.u8(kindDeadline)
		w.u64(uint64(e.PC))
		w.str(e.Plugin)
		w.str(e.Symbol)
		w.u64(uint64(e.Pid))
		w.node(e.Cause, d)
	case *pcall.HostPanicError:
		w.u8(kindHostPanic)
		w.str(e.Func)
		if v, ok := e.Value.(error); ok {
			w.bool(true)
			w.node(v, d)
		} else {
			w.bool(false)
			w.str(fmt.Sprint(e.Value))
		}
	case *pcall.AbortError:
		w.u8(kindAbort)
		w.u64(uint64(e.Code))
		w.u64(uint64(e.PC))
	case *tlsrt.StaticTLSError:
		w.u8(kindStaticTLS)
		w.u64(e.Size)
		w.u64(e.Align)
		w.u64(e.Held)
		w.u64(uint64(e.Modules))
		w.u64(e.Pending)
		w.str(e.Tunables)
		w.str(e.Glibc)
	case *loader.NotFoundError:
		w.u8(kindNotFound)
		w.str(e.Name)
		w.str(e.Needer)
		w.strs(e.Tried)
		w.node(e.Err, d)
	case *loader.UndefinedSymbolError:
		w.u8(kindUndefined)
		w.str(e.Object)
		w.str(e.Symbol)
		w.str(e.Version)
	case *loader.RelocError:
		w.u8(kindReloc)
		w.str(e.Object)
		w.str(e.Table)
		w.u64(uint64(e.Index))
		w.u32(e.Type)
		w.u64(e.Off)
		w.u32(e.Sym)
		w.str(e.Msg)
		w.node(e.Err, d)
	case *loader.RefusedError:
		w.u8(kindRefused)
		w.str(e.Path)
		w.node(e.Err, d)
	case *loader.SignatureError:
		// Type, a reflect.Type of the child's, does not cross.
		w.u8(kindSignature)
		w.str(e.Symbol)
		w.u64(uint64(e.Index))
		w.str(e.Reason)
		w.node(e.Err, d)
	case *loader.StateFileError:
		w.u8(kindStateFile)
		w.str(e.Path)
		w.str(e.Msg)
	case *loader.MigrationError:
		w.u8(kindMigration)
		w.str(e.Path)
		w.u32(e.From)
		w.u32(e.To)
		w.u64(e.FromSize)
		w.u64(e.ToSize)
		w.u32(uint32(e.Result))
		w.node(e.Err, d)
	case *elfmap.FormatError:
		w.u8(kindFormat)
		w.u64(uint64(e.Off))
		w.str(e.Field)
		w.u64(e.Value)
		w.str(e.Msg)
		w.node(e.Err, d)
	case *elfmap.ExecutableError:
		w.u8(kindExecutable)
		w.node(e.FormatError, d)
	default:
		var inner []error
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			if v := u.Unwrap(); v != nil {
				inner = []error{v}
			}
		case interface{ Unwrap() []error }:
			inner = u.Unwrap()
		}
		if len(inner) == 0 {
			w.u8(kindText)
			w.str(err.Error())
			return
		}
		w.u8(kindWrap)
		w.str(err.Error())
		w.u32(uint32(len(inner)))
		for _, v := range inner {
			w.node(v, d)
		}
	}
}

// withoutPrefix drops prefix, the context the child's loader put at the
// start of err's message ("loader: call f in x.so: "), which the host's
// loader puts around what crosses, so that the host's message reads as
// in process. Only a plain fmt.Errorf wrapper is changed: what its
// message says after the prefix is kept, around the errors it wraps.
func withoutPrefix(err error, prefix string) error {
	t := reflect.TypeOf(err)
	msg := err.Error()
	if (t != fmtWrapType && t != fmtWrapsType) || !strings.HasPrefix(msg, prefix) {
		return err
	}
	var inner []error
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		inner = []error{u.Unwrap()}
	case interface{ Unwrap() []error }:
		inner = u.Unwrap()
	}
	rest := msg[len(prefix):]
	if len(inner) == 1 && inner[0] != nil && inner[0].Error() == rest {
		return inner[0]
	}
	if len(inner) == 0 {
		return &remoteText{rest}
	}
	return &remoteWrap{rest, inner}
}

// The types of fmt.Errorf's wrappers: one %w, several.
var (
	fmtWrapType  = reflect.TypeOf(fmt.Errorf("%w", io.EOF))
	fmtWrapsType = reflect.TypeOf(fmt.Errorf("%w%w", io.EOF, io.EOF))
)

// callPrefix and lookupPrefix are the contexts the loader puts around a
// call's and a lookup's errors (loader/plugin.go, loader/remote.go).
func callPrefix(fn, plugin string) string { return "loader: call " + fn + " in " + plugin + ": " }
func lookupPrefix(name, plugin string) string {
	return fmt.Sprintf("loader: lookup %q in %s: ", name, plugin)
}

// decodeError decodes what encodeError wrote: the error, or why the bytes
// are not one (the caller wraps that with ErrProtocol). An empty input is
// not an error.
func decodeError(b []byte) (error, error) {
	r := errReader{decoder: decoder{b: b}, nodes: maxErrNodes}
	err, why := r.node(0, false)
	if why == nil && r.err != nil {
		why = r.err
	}
	if why == nil && len(r.b) != 0 {
		why = fmt.Errorf("%d bytes after the error", len(r.b))
	}
	if why == nil && err == nil {
		why = errors.New("no error")
	}
	if why != nil {
		return nil, why
	}
	return err, nil
}

// errReader decodes one tree; nodes is what is left of maxErrNodes.
type errReader struct {
	decoder
	nodes int
}

// node reads one node; optional allows kindNil (a nil error).
func (r *errReader) node(depth int, optional bool) (error, error) {
	if depth >= maxErrDepth {
		return nil, fmt.Errorf("error nested deeper than %d", maxErrDepth)
	}
	kind := r.u8()
	if r.err != nil {
		return nil, r.err
	}
	if kind == kindNil {
		if !optional {
			return nil, errors.New("a nil error where one is required")
		}
		return nil, nil
	}
	if r.nodes--; r.nodes < 0 {
		return nil, fmt.Errorf("more than %d errors in one", maxErrNodes)
	}
	d := depth + 1
	var err, why error
	// child reads a wrapped error; after the first failure it reads
	// nothing more.
	child := func(optional bool) error {
		if why != nil {
			return nil
		}
		var e error
		e, why = r.node(d, optional)
		return e
	}
	switch kind {
	case kindText:
		err = &remoteText{r.str()}
	case kindWrap:
		msg := r.str()
		n := r.count(1)
		if n == 0 && r.err == nil {
			return nil, errors.New("a wrap that wraps nothing") // the encoder sends a text
		}
		inner := make([]error, 0, n)
		for range n {
			inner = append(inner, child(false))
		}
		err = &remoteWrap{msg, inner}
	case kindSentinel:
		c := r.u16()
		if r.err == nil && (int(c) >= len(sentinels) || sentinels[c] == nil) {
			return nil, fmt.Errorf("unknown sentinel code %d", c)
		}
		if r.err == nil {
			err = sentinels[c]
		}
	case kindErrno:
		v := r.u64()
		if v > math.MaxUint32 {
			return nil, fmt.Errorf("errno %d out of range", v)
		}
		err = syscall.Errno(v)
	case kindPath:
		e := &fs.PathError{Op: r.str(), Path: r.str()}
		e.Err = child(false)
		err = e
	case kindFault:
		err = &pcall.FaultError{Signal: syscall.Signal(int32(r.u32())), Code: int32(r.u32()),
			Addr: uintptr(r.u64()), PC: uintptr(r.u64()),
			Plugin: r.str(), Symbol: r.str(), Object: r.str(), Where: r.str()}
	case kindDeadline:
		e := &pcall.DeadlineError{PC: uintptr(r.u64()), Plugin: r.str(), Symbol: r.str(), Pid: r.int()}
		e.Cause = child(true)
		err = e
	case kindHostPanic:
		e := &pcall.HostPanicError{Func: r.str()}
		if r.bool() {
			e.Value = child(false)
		} else {
			e.Value = r.str()
		}
		err = e
	case kindAbort:
		err = &pcall.AbortError{Code: int64(r.u64()), PC: uintptr(r.u64())}
	case kindStaticTLS:
		err = &tlsrt.StaticTLSError{Size: r.u64(), Align: r.u64(), Held: r.u64(), Modules: r.int(),
			Pending: r.u64(), Tunables: r.str(), Glibc: r.str()}
	case kindNotFound:
		e := &loader.NotFoundError{Name: r.str(), Needer: r.str(), Tried: r.strs()}
		e.Err = child(true)
		err = e
	case kindUndefined:
		err = &loader.UndefinedSymbolError{Object: r.str(), Symbol: r.str(), Version: r.str()}
	case kindReloc:
		e := &loader.RelocError{Object: r.str(), Table: r.str(), Index: r.int(), Type: r.u32(),
			Off: r.u64(), Sym: r.u32(), Msg: r.str()}
		e.Err = child(true)
		err = e
	case kindRefused:
		e := &loader.RefusedError{Path: r.str()}
		e.Err = child(false)
		err = e
	case kindSignature:
		e := &loader.SignatureError{Symbol: r.str(), Index: r.int(), Reason: r.str()}
		e.Err = child(true)
		err = e
	case kindStateFile:
		err = &loader.StateFileError{Path: r.str(), Msg: r.str()}
	case kindMigration:
		e := &loader.MigrationError{Path: r.str(), From: r.u32(), To: r.u32(),
			FromSize: r.u64(), ToSize: r.u64(), Result: int32(r.u32())}
		e.Err = child(true)
		err = e
	case kindFormat:
		e := &elfmap.FormatError{Off: int64(r.u64()), Field: r.str(), Value: r.u64(), Msg: r.str()}
		e.Err = child(false)
		err = e
	case kindExecutable:
		fe, ok := child(false).(*elfmap.FormatError)
		if why == nil && r.err == nil && !ok {
			return nil, errors.New("an executable error that wraps no format error")
		}
		err = &elfmap.ExecutableError{FormatError: fe}
	default:
		return nil, fmt.Errorf("unknown error kind %d", kind)
	}
	if why != nil {
		return nil, why
	}
	if r.err != nil {
		return nil, r.err
	}
	return err, nil
}

// int reads a signed integer that the encoder wrote as a u64 (an int's
// two's complement).
func (r *errReader) int() int { return int(int64(r.u64())) }

// remoteText is an error of the child's that wraps nothing runplug
// knows: its message.
type remoteText struct{ msg string }

func (e *remoteText) Error() string { return e.msg }

// remoteWrap is an error of the child's that runplug has no type for,
// wrapping errors that crossed: its message and those errors.
type remoteWrap struct {
	msg   string
	inner []error
}

func (e *remoteWrap) Error() string   { return e.msg }
func (e *remoteWrap) Unwrap() []error { return e.inner }
