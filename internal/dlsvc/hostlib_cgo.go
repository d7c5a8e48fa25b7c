//go:build linux && (amd64 || arm64) && cgo

package dlsvc

// The host's own glibc libraries (OpenHostLibrary): the C side is in
// dl.c's host half (rp_dlopen_noload, rp_dlsym, rp_dlsym_own, rp_dl_needed,
// rp_loaded_names, declared in dl.h).

/*
#cgo noescape rp_dl_lookup_host
#cgo nocallback rp_dl_lookup_host
#include <stdlib.h>
#include <string.h>
#include <dlfcn.h>
#include "dl.h"

static uint64_t rp_dl_open_host(const char *name, int flags) { return (uint64_t)(uintptr_t)dlopen(name, flags); }
static int rp_dl_close_host(uint64_t h) { return dlclose((void *)(uintptr_t)h); }
static char *rp_dl_host_error(void) { return dlerror(); }
static uint64_t rp_dl_sym_host(uint64_t h, const char *name, const char *version) {
	return rp_dlsym((void *)(uintptr_t)h, name, version);
}

// rp_dl_lookup_host is rp_dl_sym_host for a caller that wants no error
// text: one call into C instead of four (no copies of the strings to
// malloc and free, no dlerror to clear first), and no error left pending
// for this thread's next dlerror. The strings are the caller's (Go
// memory), read during the call only; version may be NULL.
static uint64_t rp_dl_lookup_host(uint64_t h, const char *name, const char *version) {
	uint64_t a = rp_dlsym((void *)(uintptr_t)h, name, version);
	if (a == 0) {
		dlerror();
	}
	return a;
}

// rp_dlopen_host has glibc load one of its own libraries into the host;
// on failure *err is a malloc'd copy of dlerror (read on this thread).
static void *rp_dlopen_host(const char *name, char **err) {
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		*err = strdup(e != NULL ? e : "unknown error");
	}
	return h;
}
*/
import "C"

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"unsafe"

	"github.com/runplug/runplug/internal/ldso"
)

// HostLibrary is one of glibc's own libraries as the host process has it
// (loaded by glibc's dynamic linker, never by runplug), whose symbols
// plugins may import.
type HostLibrary struct {
	name   string
	handle unsafe.Pointer
}

var (
	hostMu   sync.Mutex
	hostLibs = map[string]*HostLibrary{}
)

// OpenHostLibrary returns glibc's library soname (one of
// ldso.GlibcLibraries) as the host process has it: the copy already loaded
// (libc, libm and the stubs the package links), or else one glibc's own
// dlopen loads now (RTLD_NOW|RTLD_LOCAL; libresolv, libnss_*, ...), which
// stays loaded for the life of the process. Errors wrap ErrNotHostLibrary.
func OpenHostLibrary(soname string) (*HostLibrary, error) {
	return openHostLibrary(soname, true)
}

func openHostLibrary(soname string, load bool) (*HostLibrary, error) {
	if !ldso.IsGlibc(soname) || strings.ContainsRune(soname, '/') {
		return nil, hostLibraryError(fmt.Sprintf("sandbox: open host library %q: not one of glibc's libraries", soname))
	}
	hostMu.Lock()
	defer hostMu.Unlock()
	if h, ok := hostLibs[soname]; ok {
		return h, nil
	}
	cs := C.CString(soname)
	defer C.free(unsafe.Pointer(cs))
	p := C.rp_dlopen_noload(cs)
	if p == nil && load {
		var cerr *C.char
		if p = C.rp_dlopen_host(cs, &cerr); p == nil {
			return nil, hostLibraryError(fmt.Sprintf("sandbox: open host library %q: dlopen: %s", soname, takeCError(cerr)))
		}
	}
	if p == nil {
		return nil, hostLibraryError(fmt.Sprintf("sandbox: open host library %q: not loaded in this process", soname))
	}
	h := &HostLibrary{name: soname, handle: p}
	hostLibs[soname] = h
	return h, nil
}

// hostLibraryError is an error of OpenHostLibrary: errors.Is(err,
// ErrNotHostLibrary), without repeating that sentinel's text.
type hostLibraryError string

func (e hostLibraryError) Error() string { return string(e) }

// Is reports whether target is ErrNotHostLibrary.
func (e hostLibraryError) Is(target error) bool { return target == ErrNotHostLibrary }

// Name returns the library's soname.
func (h *HostLibrary) Name() string { return h.name }

// Lookup returns the address of the symbol name, of the given version
// (dlvsym) or of the default version when version is "" (dlsym).
func (h *HostLibrary) Lookup(name, version string) (uintptr, bool) {
	if name == "" || hasNUL(name) || hasNUL(version) {
		return 0, false
	}
	// Both strings NUL-terminated in one buffer, on the stack when short:
	// a relocation pass looks up every import of an object this way.
	var small [128]byte
	buf := append(append(append(small[:0], name...), 0), version...)
	buf = append(buf, 0)
	var cv *C.char
	if version != "" {
		cv = (*C.char)(unsafe.Pointer(&buf[len(name)+1]))
	}
	a := uintptr(C.rp_dl_lookup_host(C.uint64_t(uintptr(h.handle)), (*C.char)(unsafe.Pointer(&buf[0])), cv))
	return a, a != 0
}

// DLSymHost is the host's dlsym: glibc's dlsym (dlvsym when version is not
// "") on a handle of glibc's (a HostLibrary's, or one DLOpenHost
// returned). For the handle of ld.so itself, whose search scope is empty
// (it was never dlopen'ed), it looks the name up globally and keeps the
// answer only if ld.so defines it (hostlib.c, rp_dlsym). Every host
// lookup by name goes through it.
func DLSymHost(h uintptr, name, version string) (uintptr, error) {
	if name == "" || hasNUL(name) || hasNUL(version) {
		return 0, fmt.Errorf("dlsym %q: not a symbol name", name)
	}
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	var cv *C.char
	if version != "" {
		cv = C.CString(version)
		defer C.free(unsafe.Pointer(cv))
	}
	C.rp_dl_host_error() // clear
	a := uintptr(C.rp_dl_sym_host(C.uint64_t(h), cn, cv))
	if a == 0 {
		return 0, hostDLError("dlsym " + name)
	}
	return a, nil
}

// Needed returns the library's DT_NEEDED entries, in order.
func (h *HostLibrary) Needed() []string {
	buf := make([]byte, 256)
	for {
		n := int(C.rp_dl_needed(h.handle, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf))))
		if n <= len(buf) {
			var out []string
			for _, s := range strings.Split(string(buf[:n]), "\x00") {
				if s != "" {
					out = append(out, s)
				}
			}
			return out
		}
		buf = make([]byte, n)
	}
}

// HostSymbol is a symbol one of glibc's libraries defines itself.
type HostSymbol struct {
	Addr uintptr
	Size uint64 // 0 when unknown (an IFUNC's target)
	Func bool   // in an executable segment
}

// LookupOwn is Lookup restricted to the library's own definitions, not
// those of the libraries it needs: one step of dlsym's breadth-first
// search over a handle's dependencies.
func (h *HostLibrary) LookupOwn(name, version string) (HostSymbol, bool) {
	if name == "" || hasNUL(name) || hasNUL(version) {
		return HostSymbol{}, false
	}
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	var cv *C.char
	if version != "" {
		cv = C.CString(version)
		defer C.free(unsafe.Pointer(cv))
	}
	var exec C.int
	var size C.uint64_t
	a := uintptr(C.rp_dlsym_own(h.handle, cn, cv, &exec, &size))
	if a == 0 {
		return HostSymbol{}, false
	}
	return HostSymbol{Addr: a, Size: uint64(size), Func: exec != 0}, true
}

func hasNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

// HostLibraryNames returns the sonames of glibc's libraries the host
// process has loaded, in a fixed order (libc.so.6 first). The package links
// libm so that it is always among them. It loads nothing, and opens no
// file: it asks only for the libraries whose names glibc lists as loaded.
func HostLibraryNames() []string {
	loaded := loadedNames()
	var names []string
	for _, n := range ldso.GlibcLibraries() {
		// Without libc.so.6 among the names (loaded under another file
		// name), every library is asked for.
		if loaded["libc.so.6"] && !loaded[n] {
			continue
		}
		if _, err := openHostLibrary(n, false); err == nil {
			names = append(names, n)
		}
	}
	return names
}

// loadedNames returns the base names of the objects glibc has loaded.
func loadedNames() map[string]bool {
	buf := make([]byte, 4096)
	for {
		n := int(C.rp_loaded_names((*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf))))
		if n <= len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, n+1024) // objects loaded meanwhile: room to spare
	}
	names := map[string]bool{}
	for len(buf) > 0 {
		i := bytes.IndexByte(buf, 0)
		if i < 0 {
			break
		}
		names[string(buf[:i])] = true
		buf = buf[i+1:]
	}
	return names
}

var (
	argsOnce            sync.Once
	argcC, argvC, envpC uintptr
)

// ProcessArgs returns argc, argv and envp as C data (NULL-terminated arrays
// of NUL-terminated strings) copied once from os.Args and os.Environ and
// kept for the life of the process: what ld.so passes to DT_INIT and
// DT_INIT_ARRAY functions.
func ProcessArgs() (argc, argv, envp uintptr) {
	argsOnce.Do(func() {
		argcC = uintptr(len(os.Args))
		argvC = cStrings(os.Args)
		envpC = cStrings(os.Environ())
	})
	return argcC, argvC, envpC
}

// cStrings copies ss into a malloc'd NULL-terminated char* array.
func cStrings(ss []string) uintptr {
	ptrSize := unsafe.Sizeof(uintptr(0))
	arr := C.malloc(C.size_t(uintptr(len(ss)+1) * ptrSize))
	if arr == nil {
		panic("sandbox: out of memory copying process arguments")
	}
	v := unsafe.Slice((**C.char)(arr), len(ss)+1)
	for i, s := range ss {
		v[i] = C.CString(s)
	}
	v[len(ss)] = nil
	return uintptr(arr)
}

// takeCError converts and frees a malloc'd C error message.
func takeCError(e *C.char) string {
	s := C.GoString(e)
	C.free(unsafe.Pointer(e))
	return s
}

// DLOpenHost is glibc's dlopen, for the host's own libraries (a
// name of one of glibc's own libraries, or "" for the main program).
func DLOpenHost(name string, flags int) (uintptr, error) {
	var cs *C.char
	if name != "" {
		cs = C.CString(name)
		defer C.free(unsafe.Pointer(cs))
	}
	h := uintptr(C.rp_dl_open_host(cs, C.int(flags)))
	if h == 0 {
		return 0, hostDLError("dlopen " + name)
	}
	return h, nil
}

// DLCloseHost is glibc's dlclose of a handle DLOpenHost returned.
func DLCloseHost(h uintptr) error {
	if C.rp_dl_close_host(C.uint64_t(h)) != 0 {
		return hostDLError("dlclose")
	}
	return nil
}

func hostDLError(what string) error {
	if e := C.rp_dl_host_error(); e != nil {
		return errors.New(C.GoString(e))
	}
	return errors.New(what + ": failed")
}
