package loader_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"github.com/runplug/runplug/abi"
	"github.com/runplug/runplug/internal/callconv"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// Each test here runs the same calls on a plugin loaded in process and on
// the same plugin isolated (package isolate), and wants the same results:
// the general call (stack arguments, structs by value both ways, variadic,
// results in memory, Go memory passed by address) and callbacks cross the
// process boundary unchanged.

// both loads plugin name in process and isolated.
func both(t *testing.T, name string, lo loader.Options) (in, iso *loader.Plugin) {
	t.Helper()
	if !pcall.Supported {
		testenv.Skipf(t, "no native calls in this build")
	}
	path := plugintest.Build(t, name)
	l1 := loader.New(lo)
	t.Cleanup(func() { l1.Close(context.Background()) })
	lo.Isolation = isolate.New(isolate.Options{})
	l2 := loader.New(lo)
	t.Cleanup(func() { l2.Close(context.Background()) })
	in, err := l1.Load(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if iso, err = l2.Load(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	if in.Isolated() || !iso.Isolated() {
		t.Fatal("isolation not as asked")
	}
	return in, iso
}

// TestGeneralCallIsolated calls every libffi-derived case of
// plugins/ffi_call.c through a run-time Signature, in process and
// isolated: the result bytes must be the same (and not all zero). A long
// double result in x87's st0 (amd64) is refused isolated, with
// ErrUnsupported.
func TestGeneralCallIsolated(t *testing.T) {
	testenv.NeedNative(t, "isolated plugins (seccomp filters, user namespaces)")
	in, iso := both(t, "ffi_call", loader.Options{})
	for _, c := range loader.FFICases() {
		t.Run(c.Name, func(t *testing.T) {
			var sig *loader.Signature
			var err error
			if c.NFixed >= 0 {
				sig, err = loader.NewVariadicSignature(c.Ret, c.NFixed, c.Args...)
			} else {
				sig, err = loader.NewSignature(c.Ret, c.Args...)
			}
			if err != nil {
				t.Fatal(err)
			}
			var got [2][]byte
			for i, p := range []*loader.Plugin{in, iso} {
				f, err := p.FuncSig(c.Name, sig)
				// x87's st0 does not cross (arm64's q registers do).
				if p.Isolated() && callconv.KindOf(c.Ret) == callconv.KindLongDouble && callconv.Native == callconv.SysV {
					if !errors.Is(err, errors.ErrUnsupported) {
						t.Fatalf("long double isolated: %v, want ErrUnsupported", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				got[i] = make([]byte, c.Ret.Size())
				if err := f.CallSig(context.Background(), got[i], c.Vals...); err != nil {
					t.Fatalf("isolated %v: %v", p.Isolated(), err)
				}
			}
			mask := loader.DataMask(c.Ret)
			nonzero := false
			for i := range got[0] {
				if mask[i] && got[0][i] != got[1][i] {
					t.Fatalf("%v: in process % x, isolated % x", sig, got[0], got[1])
				}
				nonzero = nonzero || got[0][i] != 0
			}
			if !nonzero {
				t.Fatalf("%v: the result is all zero bytes: the case checks nothing", sig)
			}
		})
	}
}

// Go types of ffi_call.c's structs.
type (
	isoS3f struct{ A, B, C float32 }
	isoDL  struct {
		D float64
		L int64
	}
	isoLD struct {
		L int64
		D float64
	}
	isoS24  struct{ A, B, C int64 }
	isoPair struct{ X, Y int64 }
	isoSbig struct{ U [17]uint32 }
	isoTag  struct{ A, B uint8 }
	isoLrg  struct{ A, B, C, D, E uint32 }
)

// TestBindIsolated: typed bindings of general signatures (structs both
// ways, a result in memory, stack arguments, __int128, reflect-built Bind,
// BindVariadic with string arguments), and CallSig passing Go memory by
// address (a []byte out-parameter, a string, a *T), in process and
// isolated.
func TestBindIsolated(t *testing.T) {
	testenv.NeedNative(t, "isolated plugins (seccomp filters, user namespaces)")
	in, iso := both(t, "ffi_call", loader.Options{})
	cases := []struct {
		name string
		run  func(p *loader.Plugin) (any, error)
	}{
		{"s3f_fn", func(p *loader.Plugin) (any, error) {
			f, err := loader.Bind1[isoS3f, isoS3f](fnOf(t, p, "s3f_fn"))
			if err != nil {
				return nil, err
			}
			return f(context.Background(), isoS3f{1.5, 2.5, -3.5})
		}},
		{"dl_fn", func(p *loader.Plugin) (any, error) {
			f, err := loader.Bind3[isoLD, isoDL, float32, isoDL](fnOf(t, p, "dl_fn"))
			if err != nil {
				return nil, err
			}
			return f(context.Background(), isoLD{-3, 2.5}, isoDL{0.25, 100}, 4)
		}},
		{"s24_fn (memory both ways)", func(p *loader.Plugin) (any, error) {
			f, err := loader.Bind1[isoS24, isoS24](fnOf(t, p, "s24_fn"))
			if err != nil {
				return nil, err
			}
			return f(context.Background(), isoS24{1, 2, 3})
		}},
		{"no_room (stack)", func(p *loader.Plugin) (any, error) {
			f, err := loader.Bind7[int64, int64, int64, int64, int64, isoPair, int64, int64](fnOf(t, p, "no_room"))
			if err != nil {
				return nil, err
			}
			return f(context.Background(), 1, 2, 3, 4, 5, isoPair{60, 70}, 800)
		}},
		{"i128_fn", func(p *loader.Plugin) (any, error) {
			f, err := loader.Bind7[int64, abi.Int128Value, int64, int64, abi.Int128Value, int64, abi.Int128Value, abi.Int128Value](fnOf(t, p, "i128_fn"))
			if err != nil {
				return nil, err
			}
			return f(context.Background(), 1, abi.Int128Value{Hi: 5}, -3, 4, abi.Int128Value{Lo: 7, Hi: -1}, 6, abi.Int128Value{Lo: 9})
		}},
		{"many_f (Bind)", func(p *loader.Plugin) (any, error) {
			var f func(ctx context.Context, a, b, c, d, e, f, g, h, i, j, k, l, m float32) (float32, error)
			if err := loader.Bind(fnOf(t, p, "many_f"), &f); err != nil {
				return nil, err
			}
			return f(context.Background(), 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2)
		}},
		{"sbig_fn (Bind)", func(p *loader.Plugin) (any, error) {
			var f func(context.Context, isoSbig) (isoSbig, error)
			if err := loader.Bind(fnOf(t, p, "sbig_fn"), &f); err != nil {
				return nil, err
			}
			var s isoSbig
			s.U[0], s.U[16] = 3, 5
			return f(context.Background(), s)
		}},
		{"float_va (BindVariadic)", func(p *loader.Plugin) (any, error) {
			var f func(ctx context.Context, n uint32, y float64, a, b, c float64) (float64, error)
			if err := loader.BindVariadic(fnOf(t, p, "float_va"), 2, &f); err != nil {
				return nil, err
			}
			return f(context.Background(), 3, 0.5, 1.25, 2.5, 4)
		}},
		{"va_struct (BindVariadic)", func(p *loader.Plugin) (any, error) {
			var f func(ctx context.Context, n int32, a isoTag, b isoLrg, c int8, d float32, e isoTag, g int16) (int64, error)
			if err := loader.BindVariadic(fnOf(t, p, "va_struct"), 1, &f); err != nil {
				return nil, err
			}
			return f(context.Background(), 5, isoTag{3, 4}, isoLrg{1, 2, 3, 4, 5}, -6, 2.5, isoTag{7, 8}, -300)
		}},
		{"fmt_str (BindVariadic, string arguments)", func(p *loader.Plugin) (any, error) {
			// snprintf(NULL, 0, ...) returns the length it would write.
			var f func(ctx context.Context, buf unsafe.Pointer, n uint64, format string, c int8, x float32, s string, i int64) (int32, error)
			if err := loader.BindVariadic(fnOf(t, p, "fmt_str"), 3, &f); err != nil {
				return nil, err
			}
			return f(context.Background(), nil, 0, "%c|%.3f|%s|%ld", 'q', 0.125, "a longer string", -1<<40)
		}},
		{"fmt_str (CallSig, []byte out-parameter)", func(p *loader.Plugin) (any, error) {
			sig, err := loader.NewVariadicSignature(abi.Int32, 3, abi.Pointer, abi.Uint64, abi.Pointer,
				abi.Int32, abi.Pointer, abi.Float64, abi.Int8, abi.Int64, abi.Float32)
			if err != nil {
				return nil, err
			}
			f, err := p.FuncSig("fmt_str", sig)
			if err != nil {
				return nil, err
			}
			buf := bytes.Repeat([]byte{'#'}, 64)
			var n int32
			err = f.CallSig(context.Background(), &n, buf, len(buf), "%d %s %.3f %c %lld %.2f",
				int32(-42), "runplug", 3.14159, int8('x'), int64(1)<<40, float32(0.25))
			return fmt.Sprintf("%d %q", n, buf), err
		}},
		{"s24_fn (CallSig, *T result and []byte argument)", func(p *loader.Plugin) (any, error) {
			t24 := callconv.MustStructOf(abi.Int64, abi.Int64, abi.Int64)
			sig, err := loader.NewSignature(t24, t24)
			if err != nil {
				return nil, err
			}
			f, err := p.FuncSig("s24_fn", sig)
			if err != nil {
				return nil, err
			}
			var out isoS24
			arg := make([]byte, 24)
			arg[0], arg[8], arg[16] = 9, 7, 5
			err = f.CallSig(context.Background(), &out, arg)
			return out, err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, err := c.run(in)
			if err != nil {
				t.Fatalf("in process: %v", err)
			}
			got, err := c.run(iso)
			if err != nil {
				t.Fatalf("isolated: %v", err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("isolated %v, in process %v", got, want)
			}
			t.Logf("both %v", got)
		})
	}
}

// TestGeneralCallIsolatedFault: a fault on the general path of an isolated
// plugin is the same *loader.FaultError as in process, and the plugin
// serves the next call; a buffer larger than the channel is refused with
// isolate.ErrBufferTooLarge, before the call.
func TestGeneralCallIsolatedFault(t *testing.T) {
	testenv.NeedNative(t, "isolated plugins (seccomp filters, user namespaces)")
	in, iso := both(t, "ffi_call", loader.Options{KeepAfterFault: true})
	for _, p := range []*loader.Plugin{in, iso} {
		crash, err := loader.Bind7[isoS24, int64, int64, int64, int64, int64, unsafe.Pointer, isoS24](fnOf(t, p, "s24_crash"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = crash(context.Background(), isoS24{1, 2, 3}, 1, 2, 3, 4, 5, nil)
		var fe *loader.FaultError
		if !errors.As(err, &fe) || !strings.HasPrefix(fe.Symbol, "s24_crash+") {
			t.Fatalf("isolated %v: %v, want a fault in s24_crash", p.Isolated(), err)
		}
		s24, err := loader.Bind1[isoS24, isoS24](fnOf(t, p, "s24_fn"))
		if err != nil {
			t.Fatal(err)
		}
		if r, err := s24(context.Background(), isoS24{1, 2, 3}); err != nil || r != (isoS24{2, 3, 1}) {
			t.Fatalf("isolated %v: after the fault: %v, %v", p.Isolated(), r, err)
		}
	}
	sig, err := loader.NewVariadicSignature(abi.Int32, 3, abi.Pointer, abi.Uint64, abi.Pointer)
	if err != nil {
		t.Fatal(err)
	}
	f, err := iso.FuncSig("fmt_str", sig)
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 1<<20)
	if err := f.CallSig(context.Background(), nil, big, 0, ""); !errors.Is(err, isolate.ErrBufferTooLarge) {
		t.Fatalf("a 1 MiB buffer: %v, want ErrBufferTooLarge", err)
	}
}
