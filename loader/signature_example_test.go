//go:build amd64

// These examples need callbacks into Go or the general call, not yet
// ported to linux/arm64 (issue 24), and an example cannot skip: amd64
// only until they are.

package loader_test

import (
	"bytes"
	"context"
	"fmt"

	"github.com/runplug/runplug/abi"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/loader"
)

// loadFFI loads plugins/ffi_call.c for the examples.
func loadFFI() (*loader.Loader, *loader.Plugin, error) {
	path, err := plugintest.BuildErr("ffi_call")
	if err != nil {
		return nil, nil, err
	}
	l := loader.New(loader.Options{})
	p, err := l.Load(context.Background(), path)
	if err != nil {
		l.Close(context.Background())
		return nil, nil, err
	}
	return l, p, nil
}

// A signature learnt at run time, as a host reading an IDL builds it:
//
//	typedef struct { float a, b, c; } s3f;
//	s3f s3f_fn(s3f s); // returns {s.a + 1, s.b * 2, s.c * 3 + s.a}
//
// The struct goes in and comes back in two SSE registers each way; a Go
// struct with the same layout carries it (or a []byte of its C bytes).
func ExampleNewSignature() {
	ctx := context.Background()
	l, p, err := loadFFI()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close(ctx)
	s3f, err := abi.StructOf(abi.Float32, abi.Float32, abi.Float32)
	if err != nil {
		fmt.Println(err)
		return
	}
	sig, err := loader.NewSignature(s3f, s3f)
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := p.FuncSig("s3f_fn", sig)
	if err != nil {
		fmt.Println(err)
		return
	}
	type S3f struct{ A, B, C float32 }
	var out S3f
	err = f.CallSig(context.Background(), &out, S3f{1.5, 2.5, -3.5})
	fmt.Println(sig, out, err)
	// Output:
	// struct { float; float; float } (struct { float; float; float }) {2.5 5 -9} <nil>
}

// A variadic call: int fmt_str(char *buf, unsigned long n, const char
// *format, ...), which hands its variable part to vsnprintf. The float
// in the variable part is promoted to double, as C does.
func ExampleNewVariadicSignature() {
	ctx := context.Background()
	l, p, err := loadFFI()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close(ctx)
	sig, err := loader.NewVariadicSignature(abi.Int32, 3,
		abi.Pointer, abi.Uint64, abi.Pointer, // fixed: buf, n, format
		abi.Int32, abi.Pointer, abi.Float32) // variable: %d %s %.2f
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := p.FuncSig("fmt_str", sig)
	if err != nil {
		fmt.Println(err)
		return
	}
	buf := make([]byte, 32) // passed as a pointer to buf[0], pinned for the call
	var n int32
	err = f.CallSig(context.Background(), &n, buf, len(buf), "%d %s %.2f", int32(7), "ways", float32(0.5))
	fmt.Println(string(buf[:bytes.IndexByte(buf, 0)]), n, err)
	// Output:
	// 7 ways 0.50 11 <nil>
}

// Structs by value through a typed binding, and arguments past the
// registers: long no_room(long a, long b, long c, long d, long e, pair p,
// long f), where pair is struct { long x, y; }. The pair no longer fits
// in the one register left, so it goes on the stack, and f takes r9.
func ExampleBind7() {
	ctx := context.Background()
	l, p, err := loadFFI()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close(ctx)
	type Pair struct{ X, Y int64 }
	f, err := p.Func("no_room")
	if err != nil {
		fmt.Println(err)
		return
	}
	noRoom, err := loader.Bind7[int64, int64, int64, int64, int64, Pair, int64, int64](f)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(noRoom(ctx, 1, 1, 1, 1, 1, Pair{1, 1}, 1)) // 1+2+...+8
	// Output:
	// 36 <nil>
}

// Pass and return doubles through a Signature.
func ExampleFunc_CallSig() {
	ctx := context.Background()
	path, err := buildPlugin("basic")
	if err != nil {
		fmt.Println(err)
		return
	}
	l := loader.New(loader.Options{})
	defer l.Close(ctx)
	p, _ := l.Load(ctx, path)
	sig, _ := loader.ParseSignature("double scale(double, double)")
	scale, _ := p.FuncSig("scale", sig)
	var x float64
	err = scale.CallSig(ctx, &x, 2.5, 4.0)
	fmt.Println(x, err)
	// Output: 10 <nil>
}
