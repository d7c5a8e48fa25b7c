package loader

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestNativeReads: the in-process readers copy what is there, stop at a
// NUL or a bound, and turn an unmapped or PROT_NONE address into
// ErrBadAddress instead of a crash.
func TestNativeReads(t *testing.T) {
	buf := []byte("hello\x01world\x00tail")
	p := uintptr(unsafe.Pointer(&buf[0]))
	tests := []struct {
		name string
		max  int
		want string
	}{
		{"to NUL", -1, "hello\x01world"},
		{"bounded", 3, "hel"},
		{"bound past NUL", 100, "hello\x01world"},
		{"bound 0", 0, ""},
	}
	for _, tc := range tests {
		if got, err := (inProcess{}).readString(p, tc.max); err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	if s, err := (inProcess{}).readString(0, -1); s != "" || err != nil {
		t.Errorf("NULL: %q, %v", s, err)
	}
	dst := make([]byte, 5)
	if err := readInto(p+6, dst); err != nil || string(dst) != "world" {
		t.Errorf("readInto = %q, %v", dst, err)
	}
	if err := writeFrom(p, []byte("HE")); err != nil || string(buf[:5]) != "HEllo" {
		t.Errorf("writeFrom: %q, %v", buf[:5], err)
	}

	none, err := unix.Mmap(-1, 0, 4096, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(none)
	for _, bad := range []uintptr{8, uintptr(unsafe.Pointer(&none[0]))} {
		if _, err := (inProcess{}).readString(bad, -1); !errors.Is(err, ErrBadAddress) {
			t.Errorf("string at %#x: %v, want ErrBadAddress", bad, err)
		}
		if err := readInto(bad, dst); !errors.Is(err, ErrBadAddress) {
			t.Errorf("readInto(%#x): %v, want ErrBadAddress", bad, err)
		}
		if err := writeFrom(bad, dst); !errors.Is(err, ErrBadAddress) {
			t.Errorf("writeFrom(%#x): %v, want ErrBadAddress", bad, err)
		}
	}
}

// TestHostCMemory: a Plugin's memory methods on the host's libc (a
// backend of its own) allocate from the same heap the C library frees
// into: CString's copy is what strlen measures and free takes.
func TestHostCMemory(t *testing.T) {
	ctx := context.Background()
	l := New(Options{})
	defer l.Close(context.Background())
	libc, err := l.Load(context.Background(), "libc.so.6")
	if err != nil {
		t.Fatal(err)
	}
	s, err := libc.CString(ctx, "kept by C")
	if err != nil {
		t.Fatal(err)
	}
	strlen, err := libc.Func("strlen")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := strlen.Call(ctx, uint64(s)); err != nil || n != 9 {
		t.Errorf("strlen(CString) = %d, %v", n, err)
	}
	if got, err := libc.ReadString(s, 4); err != nil || got != "kept" {
		t.Errorf("ReadString(4) = %q, %v", got, err)
	}
	free, err := libc.Func("free")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := free.Call(ctx, uint64(s)); err != nil { // libc's free takes Plugin.Alloc's memory
		t.Fatal(err)
	}
	if _, err := libc.Alloc(ctx, 1<<40); !errors.Is(err, ErrNoMemory) {
		t.Errorf("Alloc(1 TiB) = %v, want ErrNoMemory", err)
	}
	if _, err := libc.CString(ctx, "a\x00b"); err == nil || strings.Count(err.Error(), "loader:") != 1 {
		t.Errorf("CString with a NUL: %v", err)
	}
}
