//go:build linux

package loader

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/dlsvc"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
)

const rtldNow = 2

// dlUser is the dl_user plugin's functions, bound; a failed call fails
// the test.
type dlUser struct {
	open    func(string, int64) int64
	call    func(int64, string, int64) int64
	close   func(int64) int64
	next    func(string) int64
	lmBase  func(int64) int64
	symBase func(int64, string) int64
	thread  func(string, string, int64) int64
	errFn   func(uint64, int64) int64
	errBuf  *cmem
}

func bindDLUser(t *testing.T, p *Plugin) *dlUser {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ok := func(v int64, err error) int64 {
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	u := &dlUser{errBuf: newCmem(t)}
	open, err := Bind2[string, int64, int64](fnOf(t, p, "dl_open"))
	must(err)
	call, err := Bind3[int64, string, int64, int64](fnOf(t, p, "dl_call"))
	must(err)
	cl, err := Bind1[int64, int64](fnOf(t, p, "dl_close"))
	must(err)
	next, err := Bind1[string, int64](fnOf(t, p, "dl_next"))
	must(err)
	lm, err := Bind1[int64, int64](fnOf(t, p, "dl_linkmap_base"))
	must(err)
	sb, err := Bind2[int64, string, int64](fnOf(t, p, "dl_addr_base"))
	must(err)
	th, err := Bind3[string, string, int64, int64](fnOf(t, p, "dl_in_thread"))
	must(err)
	ef, err := Bind2[uint64, int64, int64](fnOf(t, p, "dl_error"))
	must(err)
	u.open = func(a string, b int64) int64 { return ok(open(context.Background(), a, b)) }
	u.call = func(a int64, b string, c int64) int64 { return ok(call(context.Background(), a, b, c)) }
	u.close = func(a int64) int64 { return ok(cl(context.Background(), a)) }
	u.next = func(a string) int64 { return ok(next(context.Background(), a)) }
	u.lmBase = func(a int64) int64 { return ok(lm(context.Background(), a)) }
	u.symBase = func(a int64, b string) int64 { return ok(sb(context.Background(), a, b)) }
	u.thread = func(a, b string, c int64) int64 { return ok(th(context.Background(), a, b, c)) }
	u.errFn = func(a uint64, b int64) int64 { return ok(ef(context.Background(), a, b)) }
	return u
}

// dlerror returns the plugin's dlerror() message ("" for none).
func (u *dlUser) dlerror(t *testing.T) string {
	if u.errFn(u.errBuf.addr(0), 4096) < 0 {
		return ""
	}
	return u.errBuf.str(0)
}

// sharedRefs returns how many holders the Loader's shared object name has
// (-1 when it has none).
func sharedRefs(l *Loader, name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if o := l.byName[name]; o != nil {
		return o.refs
	}
	return -1
}

func TestDlopenFromPlugin(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	l := newLoader(t, Options{})
	if _, err := l.RegisterHostFunc("host_triple", func(x int64) int64 { return 3 * x }); err != nil {
		t.Fatal(err)
	}
	p := load(t, l, "dl_user")
	u := bindDLUser(t, p)

	if u.open("dl_target.so", rtldNow|rtldNoload) != 0 {
		t.Error("dlopen(RTLD_NOLOAD) of a library nobody loaded succeeded")
	}
	u.dlerror(t)
	h := u.open("dl_target.so", rtldNow)
	if h == 0 {
		t.Fatalf("dlopen(dl_target.so) = NULL: %s", u.dlerror(t))
	}
	if got := u.call(h, "target_add", 41); got != 42 {
		t.Errorf("dlsym(h, target_add)(41) = %d, want 42", got)
	}
	// Opened through the Loader: its shared object, held by the handle.
	if n := sharedRefs(l, "dl_target.so"); n != 1 {
		t.Errorf("dl_target.so held %d times, want 1", n)
	}
	if h2 := u.open("dl_target.so", rtldNow|rtldNoload); h2 != h {
		t.Errorf("dlopen(RTLD_NOLOAD) of an open library = %#x, want its handle %#x", h2, h)
	}
	if h2 := u.open("dl_target.so", rtldNow); h2 != h {
		t.Errorf("second dlopen = %#x, want the same handle %#x", h2, h)
	}
	// The RTLD_NOLOAD open took a reference too, as glibc's does.
	if n := sharedRefs(l, "dl_target.so"); n != 3 {
		t.Errorf("dl_target.so held %d times after three dlopens, want 3", n)
	}
	u.close(h)
	origin, err := Bind2[int64, uint64, int64](fnOf(t, p, "dl_origin"))
	if err != nil {
		t.Fatal(err)
	}
	if rc, err := origin(context.Background(), h, u.errBuf.addr(0)); err != nil || rc != 0 || u.errBuf.str(0) != filepath.Dir(p.Path()) {
		t.Errorf("dlinfo(RTLD_DI_ORIGIN) = %d, %v, %q; want 0 and %q", rc, err, u.errBuf.str(0), filepath.Dir(p.Path()))
	}
	if a, b := u.lmBase(h), u.symBase(h, "target_add"); a != b || a <= 0 {
		t.Errorf("dlinfo link map base %#x, dladdr base %#x: want the same load base", a, b)
	}

	// RTLD_DEFAULT: host functions, then the host C libraries.
	if got := u.call(0, "host_triple", 5); got != 15 {
		t.Errorf("dlsym(RTLD_DEFAULT, host_triple)(5) = %d, want 15", got)
	}
	if got := u.call(0, "labs", -7); got != 7 {
		t.Errorf("dlsym(RTLD_DEFAULT, labs)(-7) = %d, want 7", got)
	}
	strlen, _ := hostLookup("strlen", "")
	if got := u.next("strlen"); uintptr(got) != strlen {
		t.Errorf("dlsym(RTLD_NEXT, strlen) = %#x, want the host's %#x", got, strlen)
	}
	// RTLD_NEXT starts after the caller: not its own definition, which
	// RTLD_DEFAULT finds.
	if got := u.next("dl_open"); got != 0 {
		t.Errorf("dlsym(RTLD_NEXT, dl_open) = %#x, want NULL (only the caller defines it)", got)
	}
	u.dlerror(t)
	def, err := Bind1[string, int64](fnOf(t, p, "dl_default"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := def(context.Background(), "dl_open"); err != nil || uintptr(got) != lookup(t, p, "dl_open") {
		t.Errorf("dlsym(RTLD_DEFAULT, dl_open) = %#x, %v; want the plugin's own %#x", got, err, lookup(t, p, "dl_open"))
	}
	vsym, err := Bind2[string, string, int64](fnOf(t, p, "dl_vsym"))
	if err != nil {
		t.Fatal(err)
	}
	base := map[string]string{"amd64": "GLIBC_2.2.5", "arm64": "GLIBC_2.17"}[runtime.GOARCH] // memcpy's first version
	want, _ := hostLookup("memcpy", base)
	if got, err := vsym(context.Background(), "memcpy", base); err != nil || uintptr(got) != want || want == 0 {
		t.Errorf("dlvsym(RTLD_DEFAULT, memcpy, %s) = %#x, %v; want the host's %#x", base, got, err, want)
	}
	// A name of one of glibc's own libraries is the host's copy.
	hc := u.open("libc.so.6", rtldNow)
	if hc == 0 || dlsvc.DLIsHandle(uintptr(hc)) {
		t.Errorf("dlopen(libc.so.6) = %#x, want glibc's handle", hc)
	}
	if got := u.call(hc, "labs", -3); got != 3 {
		t.Errorf("dlsym(libc, labs)(-3) = %d, want 3", got)
	}
	if u.close(hc) != 0 {
		t.Errorf("dlclose(libc handle) failed: %s", u.dlerror(t))
	}

	// Errors reach dlerror, once.
	if u.open("dl_nonexistent.so", rtldNow) != 0 {
		t.Error("dlopen of a missing library succeeded")
	}
	if e := u.dlerror(t); !strings.Contains(e, "dl_nonexistent.so") {
		t.Errorf("dlerror = %q, want it to name dl_nonexistent.so", e)
	}
	if e := u.dlerror(t); e != "" {
		t.Errorf("second dlerror = %q, want none", e)
	}
	if u.call(h, "no_such_symbol", 0) != -1000 || !strings.Contains(u.dlerror(t), "no_such_symbol") {
		t.Error("dlsym of a missing symbol: want NULL and a dlerror naming it")
	}

	// From a thread the plugin created: open, call, close.
	if got := u.thread("dl_target.so", "target_add", 1); got != 2 {
		t.Errorf("on a plugin thread: %d, want 2", got)
	}

	// dlclose twice: the object is released.
	for i := 0; i < 2; i++ {
		if u.close(h) != 0 {
			t.Fatalf("dlclose: %s", u.dlerror(t))
		}
	}
	if n := sharedRefs(l, "dl_target.so"); n != -1 {
		t.Errorf("after the last dlclose the Loader still holds dl_target.so (%d)", n)
	}

	// RTLD_GLOBAL: the object (and its dependencies) joins what
	// RTLD_DEFAULT searches, until it is unloaded.
	if got := u.call(0, "target_add", 1); got != -1000 {
		t.Errorf("dlsym(RTLD_DEFAULT, target_add) without RTLD_GLOBAL = %d, want NULL", got)
	}
	u.dlerror(t)
	gpath := plugintest.Build(t, "dl_global_user")
	if _, err := l.Load(context.Background(), gpath); err == nil {
		t.Error("dl_global_user loaded before anything defines target_add")
	}
	hg := u.open("dl_target.so", rtldNow|rtldGlobal)
	if got := u.call(0, "target_add", 1); got != 2 {
		t.Errorf("dlsym(RTLD_DEFAULT, target_add) after RTLD_GLOBAL = %d, want 2", got)
	}
	// A later load binds its imports to it too.
	gu, err := l.Load(context.Background(), gpath)
	if err != nil {
		t.Fatalf("load dl_global_user after RTLD_GLOBAL: %v", err)
	}
	if got := call(t, gu, "uses_global", 4); got != 50 {
		t.Errorf("uses_global(4) = %d, want 50", got)
	}
	// Bound to it, the new plugin holds it: a dlclose does not unload it
	// from under the plugin; Close releases it.
	u.close(hg)
	if got := call(t, gu, "uses_global", 5); got != 60 {
		t.Errorf("after the dlclose: uses_global(5) = %d, want 60", got)
	}
	if err := gu.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := sharedRefs(l, "dl_target.so"); n != -1 {
		t.Errorf("after the dlclose and Close dl_target.so is still held (%d)", n)
	}
	if got := u.call(0, "target_add", 1); got != -1000 {
		t.Errorf("dlsym(RTLD_DEFAULT, target_add) after its dlclose = %d, want NULL", got)
	}
	u.dlerror(t)

	// Left open: closed with the plugin.
	h = u.open("dl_target.so", rtldNow)
	if h == 0 || sharedRefs(l, "dl_target.so") != 1 {
		t.Fatal("reopen failed")
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := sharedRefs(l, "dl_target.so"); n != -1 {
		t.Errorf("after Close the Loader still holds dl_target.so (%d)", n)
	}
	if dlsvc.DLIsHandle(uintptr(h)) {
		t.Error("dl_target.so is still in the object table after its opener closed")
	}
}

// dl_iterate_phdr and _dl_find_object as plugin code sees them, and a
// dlopen from a constructor (refused with a dlerror message: the Loader
// is loading that very plugin).
func TestDLServicesFromPlugin(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	l := newLoader(t, Options{})
	p := load(t, l, "dl_user")
	if got := call(t, p, "dl_iterate_self", uint64(p.Base())); got != 31 {
		t.Errorf("dl_iterate_self = %#x, want 0x1f (executable first, self found, with PT_GNU_EH_FRAME and its base, adds > 0)", got)
	}
	if got := call(t, p, "dl_find_self", uint64(p.Base())); got != 15 {
		t.Errorf("dl_find_self = %#x, want 0xf (found, range, eh_frame, link map)", got)
	}
	m := newCmem(t)
	call(t, p, "dl_ctor_error", m.addr(0), 256)
	if e := m.str(0); !strings.Contains(e, "constructor") {
		t.Errorf("dlopen from a constructor: dlerror %q, want a refusal that names constructors", e)
	}
	// Once the Loader holds dl_target, a constructor may open it.
	u := bindDLUser(t, p)
	if u.open("dl_target.so", rtldNow) == 0 {
		t.Fatalf("dlopen(dl_target.so): %s", u.dlerror(t))
	}
	q := load(t, l, "dl_user")
	if n := call(t, q, "dl_ctor_error", m.addr(0), 256); n != 0 {
		t.Errorf("dlopen from a constructor of a held library failed: %q", m.str(0))
	}
	if n := sharedRefs(l, "dl_target.so"); n != 2 {
		t.Errorf("dl_target.so held %d times, want 2 (a plugin function's dlopen, a constructor's)", n)
	}
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := sharedRefs(l, "dl_target.so"); n != 1 {
		t.Errorf("after closing the constructor's plugin dl_target.so is held %d times, want 1", n)
	}
}

// NoHostC and AllowC hold for what plugin code reaches through dlopen
// and dlsym too.
func TestDlopenHostCPolicy(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	l := newLoader(t, Options{AllowC: []string{"strlen", "pthread_create", "pthread_join", "strncpy", "memcpy"}})
	p := load(t, l, "dl_user")
	u := bindDLUser(t, p)
	hc := u.open("libc.so.6", rtldNow)
	if hc == 0 {
		t.Fatalf("dlopen(libc.so.6): %s", u.dlerror(t))
	}
	if got := u.call(hc, "labs", -1); got != -1000 || !strings.Contains(u.dlerror(t), "AllowC") {
		t.Error("dlsym(libc, labs) outside AllowC: want NULL and a dlerror naming AllowC")
	}
	if got := u.call(0, "labs", -1); got != -1000 {
		t.Error("dlsym(RTLD_DEFAULT, labs) outside AllowC succeeded")
	}
	u.close(hc)
}
