package sandbox

import (
	"errors"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/runplug/runplug/internal/testenv"
)

const baselineLibz = "/lib/x86_64-linux-gnu/libz.so.1"

func TestSystemLibrary(t *testing.T) {
	testenv.NeedFile(t, baselineLibz, "apt-get install zlib1g")
	if IsLoaded(baselineLibz) {
		testenv.Skipf(t, "libz is already loaded by the system loader in this process")
	}
	h, err := DlopenNow(baselineLibz)
	if err != nil {
		t.Fatal(err)
	}
	if !IsLoaded(baselineLibz) {
		t.Error("IsLoaded is false after DlopenNow")
	}
	tests := []struct {
		sym     string
		wantErr string
	}{
		{"crc32", ""},
		{"zlibVersion", ""},
		{"no_such_symbol_here", "no_such_symbol_here"},
	}
	for _, tc := range tests {
		addr, err := h.Dlsym(tc.sym)
		if tc.wantErr == "" {
			if err != nil || addr == 0 {
				t.Errorf("Dlsym(%q) = %#x, %v; want an address", tc.sym, addr, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("Dlsym(%q) = %#x, %v; want an error naming %q", tc.sym, addr, err, tc.wantErr)
		}
	}
	// crc32 through a plain call: crc32(0, NULL, 0) is 0 (zlib's initial
	// value), and the address must be callable code.
	crc, _ := h.Dlsym("crc32")
	if got := CallUnprotected2(crc, 0, 0); got != 0 {
		t.Errorf("crc32(0, NULL) = %d, want 0", got)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if IsLoaded(baselineLibz) {
		t.Error("IsLoaded is true after Close: dlclose did not unload libz")
	}
	if err := h.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := h.Dlsym("crc32"); !errors.Is(err, ErrSystemLibraryClosed) {
		t.Errorf("Dlsym after Close: %v, want ErrSystemLibraryClosed", err)
	}
}

func TestDlopenNowMissing(t *testing.T) {
	for _, path := range []string{"/nonexistent/libnothing.so", "libnothing-runplug.so.9"} {
		if h, err := DlopenNow(path); err == nil {
			h.Close()
			t.Errorf("DlopenNow(%q) succeeded", path)
		} else if !strings.Contains(err.Error(), "libnothing") {
			t.Errorf("DlopenNow(%q): %v does not name the file", path, err)
		}
		if IsLoaded(path) {
			t.Errorf("IsLoaded(%q) = true", path)
		}
	}
}

func TestCallUnprotected2(t *testing.T) {
	add := fixtureAdd()
	for _, tc := range []struct{ a, b, want int64 }{{1, 2, 3}, {-5, 5, 0}, {1 << 40, 1, 1<<40 + 1}} {
		if got := CallUnprotected2(add, tc.a, tc.b); got != tc.want {
			t.Errorf("add(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestFaultLoop checks the kernel baseline of BenchmarkFault: it takes
// every fault it is asked for, and gives the process its SIGSEGV handler
// back (a Go nil dereference still panics, a plugin's fault is still
// contained).
func TestFaultLoop(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if n := FaultLoop(5); n != 5 {
		t.Fatalf("FaultLoop(5) = %d", n)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a nil dereference after FaultLoop did not panic")
			}
		}()
		var p *int
		_ = *p
	}()
	m := newTestImage(t, "bench.so")
	var fe *FaultError
	if _, err := Call(m.fn("null_read"), nil); !errors.As(err, &fe) || fe.Signal != syscall.SIGSEGV {
		t.Errorf("a plugin fault after FaultLoop: %v, want a SIGSEGV *FaultError", err)
	}
}
