package loader

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/runplug/runplug/internal/baseline"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/testenv"
)

// same compares two values, floats by their bits (so NaN payloads count).
func same[T any](a, b T) bool {
	switch x := any(a).(type) {
	case float64:
		return math.Float64bits(x) == math.Float64bits(any(b).(float64))
	case float32:
		return math.Float32bits(x) == math.Float32bits(any(b).(float32))
	}
	return reflect.DeepEqual(a, b)
}

type bindCase struct {
	name string
	run  func(t *testing.T, p *Plugin)
}

// identity binds sym as func(T) (T, error) and checks that every value
// comes back unchanged.
func identity[T any](sym string, vals ...T) bindCase {
	return bindCase{sym, func(t *testing.T, p *Plugin) {
		f, err := Bind1[T, T](fnOf(t, p, sym))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			got, err := f(context.Background(), v)
			if err != nil || !same(got, v) {
				t.Errorf("%s(%v) = %v, %v", sym, v, got, err)
			}
		}
	}}
}

// maps binds sym as func(A) (R, error) and checks in -> want pairs.
func maps[A, R any](sym string, pairs ...any) bindCase {
	return bindCase{sym, func(t *testing.T, p *Plugin) {
		f, err := Bind1[A, R](fnOf(t, p, sym))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(pairs); i += 2 {
			in, want := pairs[i].(A), pairs[i+1].(R)
			got, err := f(context.Background(), in)
			if err != nil || !same(got, want) {
				t.Errorf("%s(%v) = %v, %v; want %v", sym, in, got, err, want)
			}
		}
	}}
}

// returns binds sym as func() (R, error) and checks its result.
func returns[R any](sym string, want R) bindCase {
	return bindCase{sym, func(t *testing.T, p *Plugin) {
		f, err := Bind0[R](fnOf(t, p, sym))
		if err != nil {
			t.Fatal(err)
		}
		got, err := f(context.Background())
		if err != nil || !same(got, want) {
			t.Errorf("%s() = %v, %v; want %v", sym, got, err, want)
		}
	}}
}

type handle uintptr // a defined type on a supported kind

func TestBindTypes(t *testing.T) {
	p := load(t, newLoader(t, Options{}), "host_types")
	nan64 := math.Float64frombits(0x7ff8_0000_dead_beef)
	nan32 := math.Float32frombits(0x7fc0_1234)
	var local int
	ptr := unsafe.Pointer(&local)
	cases := []bindCase{
		identity("id_bool", true, false),
		identity[int8]("id_i8", 0, -1, math.MinInt8, math.MaxInt8),
		identity[int16]("id_i16", 0, -1, math.MinInt16, math.MaxInt16),
		identity[int32]("id_i32", 0, -1, math.MinInt32, math.MaxInt32),
		identity[int64]("id_i64", 0, -1, math.MinInt64, math.MaxInt64),
		identity[int]("id_i64", -7, math.MaxInt),
		identity[uint8]("id_u8", 0, 1, math.MaxUint8),
		identity[uint16]("id_u16", 0, math.MaxUint16),
		identity[uint32]("id_u32", 0, math.MaxUint32),
		identity[uint64]("id_u64", 0, math.MaxUint64),
		identity[uint]("id_u64", 3, math.MaxUint),
		identity[uintptr]("id_uptr", 0, ^uintptr(0)),
		identity[handle]("id_uptr", 42),
		identity("id_ptr", ptr, unsafe.Pointer(nil)),
		identity[float32]("id_f32", 0, -1.5, math.MaxFloat32, math.SmallestNonzeroFloat32, float32(math.Inf(-1)), nan32),
		identity("id_f64", 0, -2.25, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(1), nan64),
		maps[int8, int64]("wide_i8", int8(-128), int64(-128), int8(127), int64(127)),
		maps[int16, int64]("wide_i16", int16(-32768), int64(-32768)),
		maps[int32, int64]("wide_i32", int32(-5), int64(-5), int32(math.MinInt32), int64(math.MinInt32)),
		maps[uint8, uint64]("wide_u8", uint8(255), uint64(255)),
		maps[uint16, uint64]("wide_u16", uint16(65535), uint64(65535)),
		maps[uint32, uint64]("wide_u32", uint32(math.MaxUint32), uint64(math.MaxUint32)),
		maps[bool, int64]("wide_bool", true, int64(1), false, int64(0)),
		maps[float32, float64]("wide_f32", float32(0.1), float64(float32(0.1)), float32(-3), -3.0),
		returns[int32]("dirty_i32", -123),
		returns[int8]("dirty_i8", -123),
		returns[int16]("dirty_i16", -123),
		returns[uint8]("dirty_u8", 0x85),
		returns[uint16]("dirty_u16", 0xff85),
		returns[uint32]("dirty_u32", 0xffffff85),
		returns("dirty_false", false),
		returns[float32]("dirty_f32", 1.5),
		{"mix6", func(t *testing.T, p *Plugin) {
			f, err := Bind6[int32, float64, int8, float32, uint16, int64, float64](fnOf(t, p, "mix6"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := f(context.Background(), -1, 0.5, -2, 0.25, 65535, 1<<40)
			if want := -1 + 0.5 - 2 + 0.25 + 65535 + float64(1<<40); err != nil || got != want {
				t.Errorf("mix6 = %v, %v; want %v", got, err, want)
			}
		}},
		{"sum6", func(t *testing.T, p *Plugin) {
			f, err := Bind6[int64, int64, int64, int64, int64, int64, int64](fnOf(t, p, "sum6"))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := f(context.Background(), 1, 2, 3, 4, 5, -6); err != nil || got != -545_679 {
				t.Errorf("sum6 = %v, %v", got, err)
			}
		}},
		{"mulf", func(t *testing.T, p *Plugin) {
			f, err := Bind2[float32, float32, float32](fnOf(t, p, "mulf"))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := f(context.Background(), 1.5, -4); err != nil || got != -6 {
				t.Errorf("mulf = %v, %v", got, err)
			}
		}},
		{"strings", func(t *testing.T, p *Plugin) {
			strlen, err := Bind1[string, uintptr](fnOf(t, p, "str_len"))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{"", "hello", strings.Repeat("x", 10000), "caf\u00e9"} {
				if n, err := strlen(context.Background(), s); err != nil || n != uintptr(len(s)) {
					t.Errorf("str_len(%d bytes) = %d, %v", len(s), n, err)
				}
			}
			cmp, err := Bind2[string, string, int32](fnOf(t, p, "str_cmp"))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range [][2]string{{"a", "a"}, {"a", "b"}, {"b", "a"}} {
				got, err := cmp(context.Background(), c[0], c[1])
				want := int32(strings.Compare(c[0], c[1]))
				if err != nil || (got < 0) != (want < 0) || (got == 0) != (want == 0) {
					t.Errorf("str_cmp(%q, %q) = %d, %v", c[0], c[1], got, err)
				}
			}
			at, err := Bind2[string, int32, int32](fnOf(t, p, "str_at"))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := at(context.Background(), "abc", 3); err != nil || got != 0 {
				t.Errorf("the copy is not NUL-terminated: str_at(abc, 3) = %d, %v", got, err)
			}
		}},
		{"void", func(t *testing.T, p *Plugin) {
			store, err := Bind1[int64, Void](fnOf(t, p, "store"))
			if err != nil {
				t.Fatal(err)
			}
			load, err := Bind0[int64](fnOf(t, p, "load"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := store(context.Background(), -99); err != nil {
				t.Fatal(err)
			}
			if got, err := load(context.Background()); err != nil || got != -99 {
				t.Errorf("load after store(-99) = %d, %v", got, err)
			}
			voidResult, err := Bind1[int64, Void](fnOf(t, p, "store"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := voidResult(context.Background(), 5); err != nil {
				t.Fatal(err)
			}
			if got, _ := load(context.Background()); got != 5 {
				t.Errorf("load after Void store(5) = %d", got)
			}
		}},
		{"reflect all14", func(t *testing.T, p *Plugin) {
			var f func(context.Context, int64, int64, int64, int64, int64, int64, float64, float64, float64, float64, float64, float64, float64, float64) (float64, error)
			if err := Bind(fnOf(t, p, "all14"), &f); err != nil {
				t.Fatal(err)
			}
			got, err := f(context.Background(), 1, 2, 3, 4, 5, 6, 0.5, 1, 2, 4, 8, 16, 32, 64)
			if err != nil || got != 21+127.5 {
				t.Errorf("all14 = %v, %v", got, err)
			}
		}},
		{"reflect mixed", func(t *testing.T, p *Plugin) {
			var mix func(context.Context, int32, float64, int8, float32, uint16, int64) (float64, error)
			if err := Bind(fnOf(t, p, "mix6"), &mix); err != nil {
				t.Fatal(err)
			}
			if got, err := mix(context.Background(), 1, 2, -3, 4, 5, 6); err != nil || got != 15 {
				t.Errorf("mix6 = %v, %v", got, err)
			}
			var strlen func(context.Context, string) (uint64, error)
			if err := Bind(fnOf(t, p, "str_len"), &strlen); err != nil {
				t.Fatal(err)
			}
			if n, err := strlen(context.Background(), "four"); err != nil || n != 4 {
				t.Errorf("str_len = %d, %v", n, err)
			}
			var store func(context.Context, int64) error
			if err := Bind(fnOf(t, p, "store"), &store); err != nil {
				t.Fatal(err)
			}
			if err := store(context.Background(), 77); err != nil {
				t.Fatal(err)
			}
			var idPtr func(context.Context, unsafe.Pointer) (unsafe.Pointer, error)
			if err := Bind(fnOf(t, p, "id_ptr"), &idPtr); err != nil {
				t.Fatal(err)
			}
			x := new(int64)
			if got, err := idPtr(context.Background(), unsafe.Pointer(x)); err != nil || got != unsafe.Pointer(x) {
				t.Errorf("id_ptr = %p, %v; want %p", got, err, x)
			}
			var dirty func(context.Context) (int8, error)
			if err := Bind(fnOf(t, p, "dirty_i8"), &dirty); err != nil {
				t.Fatal(err)
			}
			if got, err := dirty(context.Background()); err != nil || got != -123 {
				t.Errorf("dirty_i8 = %d, %v", got, err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, p) })
	}
}

func TestBindRefusals(t *testing.T) {
	p := load(t, newLoader(t, Options{}), "host_types")
	var (
		noError   func(context.Context, int64) int64
		variadic  func(context.Context, ...int64) error
		badResult func(context.Context) (string, error)
		ok        func(int64) error
	)
	tests := []struct {
		name  string
		bind  func() error
		index int // SignatureError.Index, or -9 for a lookup error
	}{
		{"struct with a string arg", func() error { _, err := Bind1[struct{ a, b string }, int32](fnOf(t, p, "id_i32")); return err }, 0},
		{"array arg", func() error { _, err := Bind1[[4]int32, int32](fnOf(t, p, "id_i32")); return err }, 0},
		{"slice arg other than []byte", func() error { _, err := Bind2[int32, []int32, int32](fnOf(t, p, "id_i32")); return err }, 1},
		{"Go pointer arg", func() error { _, err := Bind1[*int, int32](fnOf(t, p, "id_i32")); return err }, 0},
		{"complex arg", func() error { _, err := Bind1[complex128, int32](fnOf(t, p, "id_i32")); return err }, 0},
		{"interface arg", func() error { _, err := Bind1[any, int32](fnOf(t, p, "id_i32")); return err }, 0},
		{"string result", func() error { _, err := Bind1[int32, string](fnOf(t, p, "id_i32")); return err }, -1},
		{"array result", func() error { _, err := Bind0[[2]int64](fnOf(t, p, "load")); return err }, -1},
		{"no error result", func() error { return Bind(fnOf(t, p, "id_i64"), &noError) }, -1},
		{"variadic", func() error { return Bind(fnOf(t, p, "sum6"), &variadic) }, -2},
		{"string result reflect", func() error { return Bind(fnOf(t, p, "load"), &badResult) }, -1},
		{"not a pointer", func() error { return Bind(fnOf(t, p, "store"), ok) }, -2},
		{"nil pointer", func() error { return Bind(fnOf(t, p, "store"), (*func(int64) error)(nil)) }, -2},
		{"missing symbol", func() error { _, err := p.Func("no_such_function"); return err }, -9},
		{"nil Func", func() error { _, err := Bind0[int32](nil); return err }, -2},
		{"no context", func() error { var f func(int64) error; return Bind(fnOf(t, p, "store"), &f) }, -2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.bind()
			if tt.index == -9 {
				if !errors.Is(err, ErrSymbolNotFound) {
					t.Fatalf("err = %v, want ErrSymbolNotFound", err)
				}
				return
			}
			var se *SignatureError
			if !errors.As(err, &se) || !errors.Is(err, ErrSignature) {
				t.Fatalf("err = %v, want a *SignatureError", err)
			}
			if se.Index != tt.index {
				t.Errorf("Index = %d, want %d (%v)", se.Index, tt.index, err)
			}
		})
	}
}

// TestBindFault faults through both forms of a generated binding: the
// register form (int32) and the word form (every value 64 bits).
func TestBindFault(t *testing.T) {
	for _, form := range []string{"register", "word"} {
		t.Run(form, func(t *testing.T) { testBindFault(t, form) })
	}
}

func testBindFault(t *testing.T, form string) {
	l := newLoader(t, Options{})
	p := load(t, l, "host_types")
	crash, err := Bind1[int32, int32](fnOf(t, p, "crash_null"))
	if form == "word" {
		var crash64 func(context.Context, int64) (int64, error)
		crash64, err = Bind1[int64, int64](fnOf(t, p, "crash_null"))
		crash = func(ctx context.Context, a int32) (int32, error) {
			r, err := crash64(ctx, int64(a))
			return int32(r), err
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	var voidCrash func(context.Context, int32) error
	if err := Bind(fnOf(t, p, "crash_null"), &voidCrash); err != nil {
		t.Fatal(err)
	}
	id, err := Bind1[int32, int32](fnOf(t, p, "id_i32"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := crash(context.Background(), 1)
	var fe *pcall.FaultError
	if !errors.As(err, &fe) || got != 0 {
		t.Fatalf("crash_null = %d, %v; want a fault", got, err)
	}
	if fe.Plugin != "host_types.so" || !strings.HasPrefix(fe.Symbol, "crash_null+") {
		t.Errorf("fault names plugin %q symbol %q", fe.Plugin, fe.Symbol)
	}
	if _, err := id(context.Background(), 1); !errors.Is(err, ErrQuarantined) {
		t.Errorf("call after the fault: %v, want ErrQuarantined", err)
	}
	if err := voidCrash(context.Background(), 1); !errors.Is(err, ErrQuarantined) {
		t.Errorf("reflect call after the fault: %v, want ErrQuarantined", err)
	}
	p2 := load(t, l, "host_types") // a fresh instance works
	id2, err := Bind1[int32, int32](fnOf(t, p2, "id_i32"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := id2(context.Background(), 7); err != nil || got != 7 {
		t.Errorf("fresh instance id_i32(7) = %d, %v", got, err)
	}
	p2.Close(context.Background())
	if _, err := id2(context.Background(), 7); !errors.Is(err, ErrClosed) {
		t.Errorf("call after Close: %v, want ErrClosed", err)
	}
}

func TestBindAllocations(t *testing.T) {
	p := load(t, newLoader(t, Options{}), "host_types")
	mix, err := Bind6[int32, float64, int8, float32, uint16, int64, float64](fnOf(t, p, "mix6"))
	if err != nil {
		t.Fatal(err)
	}
	f32, err := Bind1[float32, float32](fnOf(t, p, "id_f32"))
	if err != nil {
		t.Fatal(err)
	}
	n := testing.AllocsPerRun(100, func() {
		mix(context.Background(), 1, 2, 3, 4, 5, 6)
		f32(context.Background(), 1.5)
	})
	if n != 0 {
		t.Errorf("typed calls allocate %v times per run, want 0", n)
	}
}

// TestBindGeneralAllocations: a binding of the general form (a 24-byte
// struct by value both ways: the stack and a result in memory) allocates
// nothing either. The isolated path shares the code: nothing it does may
// make the result escape (it once did, through the Remote interface).
func TestBindGeneralAllocations(t *testing.T) {
	testenv.NeedPort(t, pcall.FramesSupported, "general calls (the AAPCS64 frame thunk)")
	p := load(t, newLoader(t, Options{}), "ffi_call")
	s24, err := Bind1[baseline.S24, baseline.S24](fnOf(t, p, "s24_fn"))
	if err != nil {
		t.Fatal(err)
	}
	in := baseline.S24{A: 1, B: 2, C: 3}
	if n := testing.AllocsPerRun(100, func() { s24(context.Background(), in) }); n != 0 {
		t.Errorf("a struct-by-value call allocates %v times per run, want 0", n)
	}
}

// TestBindWordDeadline: a word-form binding (every value 64 bits) given a
// context with a deadline takes the watched path and is interrupted.
func TestBindWordDeadline(t *testing.T) {
	l := newLoader(t, Options{})
	p := load(t, l, "isolate_faults")
	spin, err := Bind0[int64](fnOf(t, p, "spin"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if got, err := spin(ctx); !errors.Is(err, ErrDeadline) || got != 0 {
		t.Fatalf("spin = %d, %v; want 0 and ErrDeadline", got, err)
	}
}
