package loader

import (
	"context"
	"runtime"
	"testing"
	"unsafe"

	"github.com/runplug/runplug/abi"
	"github.com/runplug/runplug/internal/testenv"
)

// cStringAt reads the NUL-terminated string at p, C memory a library
// returned.
func cStringAt(p uintptr) string {
	b := *(**byte)(unsafe.Pointer(&p))
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(b), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(b, n))
}

// TestVariadicRealLibraries calls the variadic functions of real libraries
// loaded by runplug: sqlite3_mprintf (with sqlite's %Q) and gmp_sprintf
// (with a bignum, %Zd).
func TestVariadicRealLibraries(t *testing.T) {
	t.Run("sqlite3_mprintf", func(t *testing.T) {
		sqlitePath := testenv.SystemLib(t, "libsqlite3.so.0", "libsqlite3-0")
		p, err := newLoader(t, Options{}).Load(context.Background(), sqlitePath)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := NewVariadicSignature(abi.Pointer, 1, abi.Pointer, abi.Int32, abi.Pointer, abi.Float64, abi.Pointer, abi.Int64)
		if err != nil {
			t.Fatal(err)
		}
		mprintf, err := p.FuncSig("sqlite3_mprintf", sig)
		if err != nil {
			t.Fatal(err)
		}
		var s uintptr
		if err := mprintf.CallSig(context.Background(), &s, "%d %s %.2f %Q %lld", int32(42), "it's", 2.5, "o'k", int64(-1)<<40); err != nil || s == 0 {
			t.Fatalf("sqlite3_mprintf: %#x, %v", s, err)
		}
		got := cStringAt(s)
		free, err := p.Func("sqlite3_free")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := free.Call(context.Background(), uint64(s)); err != nil {
			t.Fatal(err)
		}
		if want := "42 it's 2.50 'o''k' -1099511627776"; got != want {
			t.Errorf("sqlite3_mprintf = %q, want %q", got, want)
		}
	})
	t.Run("gmp_sprintf", func(t *testing.T) {
		gmpPath := testenv.SystemLib(t, "libgmp.so.10", "libgmp10")
		p, err := newLoader(t, Options{}).Load(context.Background(), gmpPath)
		if err != nil {
			t.Fatal(err)
		}
		// mpz_t is struct { int alloc, size; mp_limb_t *d; }: 16 bytes,
		// Go memory pinned for the calls (gmp keeps only C pointers in it).
		mpz := new([2]uint64)
		buf := make([]byte, 128)
		var pin runtime.Pinner
		pin.Pin(mpz)
		pin.Pin(&buf[0])
		defer pin.Unpin()
		initSet, err := Bind3[unsafe.Pointer, string, int32, int32](fnOf(t, p, "__gmpz_init_set_str"))
		if err != nil {
			t.Fatal(err)
		}
		if rc, err := initSet(context.Background(), unsafe.Pointer(mpz), "123456789012345678901234567890", 10); err != nil || rc != 0 {
			t.Fatalf("mpz_init_set_str: %d, %v", rc, err)
		}
		clear, err := Bind1[unsafe.Pointer, Void](fnOf(t, p, "__gmpz_clear"))
		if err != nil {
			t.Fatal(err)
		}
		defer clear(context.Background(), unsafe.Pointer(mpz))
		var sprintf func(ctx context.Context, buf unsafe.Pointer, format string, z unsafe.Pointer, i int32, f float64, c int8) (int32, error)
		if err := BindVariadic(fnOf(t, p, "__gmp_sprintf"), 2, &sprintf); err != nil {
			t.Fatal(err)
		}
		n, err := sprintf(context.Background(), unsafe.Pointer(&buf[0]), "%Zd|%d|%.3f|%c", unsafe.Pointer(mpz), -7, 0.125, 'z')
		const want = "123456789012345678901234567890|-7|0.125|z"
		if got := string(buf[:max(0, n)]); err != nil || got != want {
			t.Errorf("gmp_sprintf = %q (%d), %v; want %q", got, n, err, want)
		}
	})
}
