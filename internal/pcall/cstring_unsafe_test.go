package pcall

import (
	"errors"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cPage maps two pages, the second PROT_NONE, and writes s at the end of
// the first, so that a string without its NUL runs into the unmapped
// page. It returns the address of s.
func cPage(t *testing.T, s string) uintptr {
	t.Helper()
	ps := unix.Getpagesize()
	m, err := unix.Mmap(-1, 0, 2*ps, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(m) })
	if err := unix.Mprotect(m[ps:], unix.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	copy(m[ps-len(s):ps], s)
	return uintptr(unsafe.Pointer(&m[ps-len(s)]))
}

func TestCString(t *testing.T) {
	tests := []struct {
		name    string
		addr    func(t *testing.T) uintptr
		max     int
		want    string
		wantErr error // nil: no error
	}{
		{"null", func(*testing.T) uintptr { return 0 }, 10, "", nil},
		{"whole", func(t *testing.T) uintptr { return cPage(t, "runplug\x00") }, 100, "runplug", nil},
		{"bounded", func(t *testing.T) uintptr { return cPage(t, "runplug\x00") }, 3, "run", nil},
		{"zero bound", func(t *testing.T) uintptr { return cPage(t, "x\x00") }, 0, "", nil},
		{"empty", func(t *testing.T) uintptr { return cPage(t, "\x00") }, 10, "", nil},
		// No NUL before the unmapped page: an error, not a crash.
		{"unterminated", func(t *testing.T) uintptr { return cPage(t, "abc") }, 100, "", ErrBadAddress},
		// Ends exactly at the page: the bound keeps the read inside.
		{"bound at page end", func(t *testing.T) uintptr { return cPage(t, "abc") }, 3, "abc", nil},
		{"first page", func(*testing.T) uintptr { return 8 }, 10, "", ErrBadAddress},
		{"kernel half", func(*testing.T) uintptr { return 1 << 63 }, 10, "", ErrBadAddress},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CString(tc.addr(t), tc.max)
			if tc.wantErr == nil && (err != nil || got != tc.want) {
				t.Errorf("CString = %q, %v; want %q", got, err, tc.want)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("CString = %q, %v; want an error wrapping %v", got, err, tc.wantErr)
			}
		})
	}
	if _, err := CString(cPage(t, "a\x00"), -1); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("negative bound: %v", err)
	}
}

func TestCStringInto(t *testing.T) {
	tests := []struct {
		name    string
		s       string
		dst     int
		want    int
		wantErr error
	}{
		{"fits", "abc\x00", 8, 3, nil},
		{"NUL in the last byte", "abc\x00", 4, 3, nil},
		{"one short", "abcd\x00", 4, 0, ErrNoNUL},
		{"empty dst", "a\x00", 0, 0, ErrNoNUL},
		{"unterminated", "abc", 16, 0, ErrBadAddress},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([]byte, tc.dst)
			n, err := CStringInto(dst, cPage(t, tc.s))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("CStringInto = %d, %v; want an error wrapping %v", n, err, tc.wantErr)
				}
				return
			}
			if err != nil || n != tc.want || string(dst[:n]) != tc.s[:n] || dst[n] != 0 {
				t.Fatalf("CStringInto = %d, %v, %q; want %d", n, err, dst, tc.want)
			}
		})
	}
}
