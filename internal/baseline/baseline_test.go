package baseline

import (
	"errors"
	"strings"
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
