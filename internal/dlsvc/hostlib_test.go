//go:build linux && (amd64 || arm64) && cgo

package dlsvc

import (
	"errors"
	"os"
	"path"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/runplug/runplug/internal/ldso"
	"github.com/runplug/runplug/internal/pcall"
)

// memcpyVersions are two versions of glibc's memcpy on this architecture
// (x86-64: 2.14's and the original 2.2.5; AArch64 has one, its base 2.17).
var memcpyVersions = map[string][2]string{
	"amd64": {"GLIBC_2.14", "GLIBC_2.2.5"},
	"arm64": {"GLIBC_2.17", "GLIBC_2.17"},
}[runtime.GOARCH]

func TestHostLibraries(t *testing.T) {
	names := HostLibraryNames()
	for _, want := range []string{"libc.so.6", "libm.so.6"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("HostLibraryNames() = %v, lacks %s", names, want)
		}
	}
	for _, bad := range []string{"libfoo.so", "libz.so.1", "/lib/x86_64-linux-gnu/libc.so.6", ""} {
		if _, err := OpenHostLibrary(bad); !errors.Is(err, ErrNotHostLibrary) {
			t.Errorf("OpenHostLibrary(%q) error = %v, want ErrNotHostLibrary", bad, err)
		}
	}
	libc, err := OpenHostLibrary("libc.so.6")
	if err != nil {
		t.Fatal(err)
	}
	lookups := []struct {
		name, version string
		ok            bool
	}{
		{"memcpy", "", true},
		{"memcpy", memcpyVersions[0], true},
		{"memcpy", memcpyVersions[1], true},
		{"memcpy", "GLIBC_999", false},
		{"no_such_symbol_xyz", "", false},
		{"mem\x00cpy", "", false},
		{"", "", false},
	}
	for _, l := range lookups {
		if p, ok := libc.Lookup(l.name, l.version); ok != l.ok || ok != (p != 0) {
			t.Errorf("Lookup(%q, %q) = %#x, %v; want ok %v", l.name, l.version, p, ok, l.ok)
		}
	}
	// Calls through a looked-up libc function work: strlen.
	strlen, _ := libc.Lookup("strlen", "")
	s := []byte("runplug\x00")
	r, err := pcall.Call(strlen, &pcall.Args{Int: [6]uint64{uint64(uintptr(unsafe.Pointer(&s[0])))}})
	runtime.KeepAlive(s)
	if err != nil || r.Int != 7 {
		t.Errorf("strlen = %d, %v", r.Int, err)
	}
}

func TestHostLibraryNamesAll(t *testing.T) {
	got := strings.Join(HostLibraryNames(), " ")
	// The glibc 2.34+ stubs (libpthread, libdl, librt) are not linked:
	// they are loaded when a plugin names one (below).
	want := "libc.so.6 libm.so.6 " + path.Base(ldso.Interp)
	if got != want {
		t.Errorf("HostLibraryNames() = %s, want %s", got, want)
	}
	for _, stub := range []string{"libpthread.so.0", "libdl.so.2", "librt.so.1"} {
		if _, err := OpenHostLibrary(stub); err != nil {
			t.Errorf("OpenHostLibrary(%s): %v", stub, err)
		}
	}
	ld, err := OpenHostLibrary(path.Base(ldso.Interp))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ld.Lookup("__tls_get_addr", ""); !ok {
		t.Error("no __tls_get_addr in ld.so")
	}
	// The global fallback for ld.so's handle must not answer with
	// another library's symbol.
	if p, ok := ld.Lookup("strlen", ""); ok {
		t.Errorf("ld.so Lookup(strlen) = %#x, want not found (libc's)", p)
	}
}

func TestProcessArgs(t *testing.T) {
	argc, argv, envp := ProcessArgs()
	if argc != uintptr(len(os.Args)) {
		t.Fatalf("argc = %d, want %d", argc, len(os.Args))
	}
	argv2, envp2 := cArray(argv), cArray(envp)
	if strings.Join(argv2, "\n") != strings.Join(os.Args, "\n") {
		t.Errorf("argv = %q, want %q", argv2, os.Args)
	}
	if len(envp2) != len(os.Environ()) {
		t.Errorf("envp has %d entries, want %d", len(envp2), len(os.Environ()))
	}
	if _, argv3, _ := ProcessArgs(); argv3 != argv {
		t.Errorf("second ProcessArgs gave a new argv")
	}
}

// cArray reads a NULL-terminated char* array (C memory, never moved).
func cArray(p uintptr) []string {
	arr := *(*unsafe.Pointer)(unsafe.Pointer(&p))
	var out []string
	for i := 0; ; i++ {
		s := *(*unsafe.Pointer)(unsafe.Add(arr, i*int(unsafe.Sizeof(uintptr(0)))))
		if s == nil {
			return out
		}
		n := 0
		for *(*byte)(unsafe.Add(s, n)) != 0 {
			n++
		}
		out = append(out, string(unsafe.Slice((*byte)(s), n)))
	}
}
