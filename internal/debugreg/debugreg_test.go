//go:build linux && (amd64 || arm64) && cgo

package debugreg

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/testenv"
)

// cMem is the C memory at address a.
func cMem(a uintptr) unsafe.Pointer { return unsafe.Add(nil, a) }

// peek reads the word at a.
func peek(a uintptr) uintptr { return *(*uintptr)(cMem(a)) }

// cstr reads the NUL-terminated string at a.
func cstr(a uintptr) string {
	var b []byte
	for ; *(*byte)(cMem(a)) != 0; a++ {
		b = append(b, *(*byte)(cMem(a)))
	}
	return string(b)
}

// Offsets of struct r_debug_extended and struct link_map (link.h).
const (
	rVersion = 0
	rMap     = 8
	rBrk     = 16
	rState   = 24
	rNext    = 40
	lAddr    = 0
	lName    = 8
	lLd      = 16
	lNext    = 24
	lPrev    = 32
)

type lmEntry struct {
	addr, ld uintptr
	name     string
}

// ourEntries walks runplug's namespace as a debugger does, checking the
// l_prev links, and returns the entries whose names start with prefix.
func ourEntries(t *testing.T, prefix string) []lmEntry {
	t.Helper()
	ns := debugNamespace()
	var out []lmEntry
	prev := uintptr(0)
	for lm := peek(ns + rMap); lm != 0; lm = peek(lm + lNext) {
		if peek(lm+lPrev) != prev {
			t.Fatalf("link_map %#x: l_prev %#x, want %#x", lm, peek(lm+lPrev), prev)
		}
		prev = lm
		if n := cstr(peek(lm + lName)); len(n) >= len(prefix) && n[:len(prefix)] == prefix {
			out = append(out, lmEntry{addr: peek(lm + lAddr), ld: peek(lm + lLd), name: n})
		}
	}
	return out
}

// TestDebugNamespace checks the r_debug chain as gdb reads it: glibc's
// r_debug (from DT_DEBUG) says r_version 2, its r_next chain reaches
// runplug's node, whose r_brk is glibc's and whose r_map lists exactly
// the registered objects, in order, as they come and go.
func TestDebugNamespace(t *testing.T) {
	if err := DebuggerError(); err != nil {
		testenv.Skipf(t, "%v", err)
	}
	base, ns := debugBase(), debugNamespace()
	if v := *(*int32)(cMem(base + rVersion)); v < 2 {
		t.Fatalf("glibc's r_version is %d, want 2", v)
	}
	found := false
	for r, n := base, 0; r != 0 && n < 64; r, n = peek(r+rNext), n+1 {
		if r == ns {
			found = true
			break
		}
	}
	if !found {
		t.Fatalf("runplug's r_debug %#x is not on the r_next chain from %#x", ns, base)
	}
	if *(*int32)(cMem(ns + rVersion)) != 2 || peek(ns+rBrk) != peek(base+rBrk) || *(*int32)(cMem(ns + rState)) != 0 {
		t.Fatalf("runplug's r_debug: version %d, r_brk %#x (glibc's %#x), state %d", *(*int32)(cMem(ns + rVersion)), peek(ns+rBrk), peek(base+rBrk), *(*int32)(cMem(ns + rState)))
	}

	var objs []*DebugObject
	var want []lmEntry
	for i := 0; i < 3; i++ {
		e := lmEntry{addr: uintptr(0x7000_0000_0000 + i<<20), ld: uintptr(0x7000_0000_3000 + i<<20), name: fmt.Sprintf("/nonexistent/ns-test-%d.so", i)}
		objs = append(objs, AddDebugObject(&DebugInfo{Path: e.name, Base: e.addr, Dynamic: e.ld}))
		want = append(want, e)
	}
	check := func(want []lmEntry) {
		t.Helper()
		got := ourEntries(t, "/nonexistent/ns-test-")
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("runplug's link_map list: %v, want %v", got, want)
		}
	}
	check(want)
	objs[1].Remove()
	objs[1].Remove() // twice is harmless
	check([]lmEntry{want[0], want[2]})
	objs[0].Remove()
	check(want[2:])
	objs[2].Remove()
	check(nil)
}

// TestDebugNamespaceDlmopen: a dlmopen namespace created after runplug's
// node is appended by glibc after it (glibc walks the chain to its end);
// both stay reachable, and runplug's list keeps working.
func TestDebugNamespaceDlmopen(t *testing.T) {
	if err := DebuggerError(); err != nil {
		testenv.Skipf(t, "%v", err)
	}
	chain := func() []uintptr {
		var out []uintptr
		for r, n := debugBase(), 0; r != 0 && n < 64; r, n = peek(r+rNext), n+1 {
			out = append(out, r)
		}
		return out
	}
	before := chain()
	closeNS := testDlmopen("libz.so.1")
	if closeNS == nil {
		testenv.Skipf(t, "dlmopen(LM_ID_NEWLM, libz.so.1) failed (zlib1g)")
	}
	defer closeNS()
	after := chain()
	ns := debugNamespace()
	at := -1
	for i, r := range after {
		if r == ns {
			at = i
		}
	}
	if at < 0 || len(after) < len(before) {
		t.Fatalf("chain before dlmopen %#x, after %#x: runplug's node %#x lost", before, after, ns)
	}
	if len(after) == len(before) {
		t.Logf("dlmopen reused an initialised namespace: chain %#x", after)
	} else if at == len(after)-1 {
		t.Fatalf("chain after dlmopen %#x: the new namespace is not after runplug's node %#x", after, ns)
	}
	d := AddDebugObject(&DebugInfo{Path: "/nonexistent/ns-dlmopen.so", Base: 0x7100_0000_0000})
	if got := ourEntries(t, "/nonexistent/ns-dlmopen"); len(got) != 1 {
		t.Errorf("after dlmopen: runplug's list %v", got)
	}
	d.Remove()
}

// TestDebugNamespaceRelink does what glibc releases after 2.36 do when a
// dlmopen namespace is made after runplug's node: the predecessor's r_next
// is overwritten, unlinking runplug's node. The next registration change
// appends it again, and every other node stays on the chain.
func TestDebugNamespaceRelink(t *testing.T) {
	if err := DebuggerError(); err != nil {
		testenv.Skipf(t, "%v", err)
	}
	ns := debugNamespace()
	var chain []uintptr
	pred := uintptr(0)
	for r, n := debugBase(), 0; r != 0 && n < 64; r, n = peek(r+rNext), n+1 {
		if r == ns {
			continue
		}
		if peek(r+rNext) == ns {
			pred = r
		}
		chain = append(chain, r)
	}
	if pred == 0 {
		t.Fatalf("runplug's node %#x is not on the chain", ns)
	}
	*(*uintptr)(cMem(pred + rNext)) = peek(ns + rNext) // unlink, as glibc would
	d := AddDebugObject(&DebugInfo{Path: "/nonexistent/ns-relink.so", Base: 0x7200_0000_0000})
	defer d.Remove()
	var after []uintptr
	found := false
	for r, n := debugBase(), 0; r != 0 && n < 64; r, n = peek(r+rNext), n+1 {
		if r == ns {
			found = true
			continue
		}
		after = append(after, r)
	}
	if !found {
		t.Fatalf("runplug's node %#x was not linked again", ns)
	}
	if fmt.Sprint(after) != fmt.Sprint(chain) {
		t.Errorf("the other namespaces changed: %#x, want %#x", after, chain)
	}
	if got := ourEntries(t, "/nonexistent/ns-relink"); len(got) != 1 {
		t.Errorf("runplug's list after relinking: %v", got)
	}
}

// TestDebugRegistryConcurrent adds and removes objects from several
// goroutines (run it with -race): the list stays well formed.
func TestDebugRegistryConcurrent(t *testing.T) {
	if err := DebuggerError(); err != nil {
		testenv.Skipf(t, "%v", err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				d := AddDebugObject(&DebugInfo{Path: fmt.Sprintf("/nonexistent/conc-%d.so", g), Base: uintptr(g), TextLo: uintptr(0x6000_0000_0000 + g<<24 + i<<12), TextHi: uintptr(0x6000_0000_1000 + g<<24 + i<<12)})
				d.Remove()
			}
		}(g)
	}
	wg.Wait()
	if got := ourEntries(t, "/nonexistent/conc-"); len(got) != 0 {
		t.Fatalf("entries left: %v", got)
	}
}

// relTable builds a SymbolTable of syms (absolute addresses) relative to base.
func relTable(base uintptr, syms []DebugSymbol) *SymbolTable {
	rel := make([]DebugSymbol, len(syms))
	for i, s := range syms {
		rel[i] = s
		rel[i].Addr -= base
	}
	return NewSymbolTable(rel)
}

// TestProfTable checks the cgo traceback and symbolizer over the table:
// a PC in a live object is recorded and named after the symbol containing
// it; a PC elsewhere is left to the host (nothing here); a closed object's
// PCs are no longer recorded but still named, until a new object takes
// its range.
func TestProfTable(t *testing.T) {
	const lo, hi = 0x5000_0000_1000, 0x5000_0000_3000
	syms := []DebugSymbol{
		{Name: "second", Addr: lo + 0x800, Size: 0x100},
		{Name: "first", Addr: lo + 0x10, Size: 0x20},
		{Name: "nosize", Addr: lo + 0x900, Size: 0},
	}
	d := AddDebugObject(&DebugInfo{Name: "table.so", Base: lo - 0x1000, TextLo: lo, TextHi: hi, Symbols: relTable(lo-0x1000, syms)})
	for _, c := range []struct {
		pc    uintptr
		fn    string
		entry uintptr
	}{
		{lo + 0x10, "first", lo + 0x10},
		{lo + 0x2f, "first", lo + 0x10},
		{lo + 0x30, "first", lo + 0x10}, // a return address just past the end
		{lo + 0x31, "[table.so]", 0},
		{lo + 0x850, "second", lo + 0x800},
		{lo + 0x905, "[table.so]", 0},
	} {
		fn, file, entry := profSymbolize(c.pc)
		if fn != c.fn || entry != c.entry || file != "table.so" {
			t.Errorf("symbolize %#x: %q %q %#x, want %q table.so %#x", c.pc, fn, file, entry, c.fn, c.entry)
		}
	}
	if fn, file, _ := profSymbolize(hi); fn != "" || file != "" {
		t.Errorf("symbolize %#x (past the object): %q %q", uintptr(hi), fn, file)
	}
	if got := profTraceback(lo+0x850, 0, 0, 8); len(got) != 1 || got[0] != lo+0x850 {
		t.Errorf("traceback in a live object: %#x", got)
	}
	if got := profTraceback(hi+0x10, 0, 0, 8); len(got) != 0 {
		t.Errorf("traceback outside runplug's objects: %#x, want nothing", got)
	}
	if got := profTraceback(lo+0x850, 0, 0, 0); len(got) != 0 {
		t.Errorf("traceback with Max 0 wrote %#x", got)
	}
	d.Remove()
	if got := profTraceback(lo+0x850, 0, 0, 8); len(got) != 0 {
		t.Errorf("traceback in a closed object: %#x, want nothing", got)
	}
	if fn, _, _ := profSymbolize(lo + 0x850); fn != "second" {
		t.Errorf("symbolize in a closed object: %q, want second", fn)
	}
	// A new object over the same range replaces the closed one.
	d2 := AddDebugObject(&DebugInfo{Name: "again.so", TextLo: lo, TextHi: hi, Symbols: NewSymbolTable([]DebugSymbol{{Name: "other", Addr: lo + 0x800, Size: 0x100}})})
	defer d2.Remove()
	if fn, file, _ := profSymbolize(lo + 0x850); fn != "other" || file != "again.so" {
		t.Errorf("symbolize after reuse: %q %q, want other again.so", fn, file)
	}
}

// TestProfSetSymbols: an object registered without symbols (profiling
// was off) is named once SetSymbols gives them; not after Remove.
func TestProfSetSymbols(t *testing.T) {
	const lo, hi = 0x5200_0000_0000, 0x5200_0000_1000
	d := AddDebugObject(&DebugInfo{Name: "late.so", Base: lo, TextLo: lo, TextHi: hi})
	if fn, file, _ := profSymbolize(lo + 8); fn != "[late.so]" || file != "late.so" {
		t.Errorf("without symbols: %q %q", fn, file)
	}
	tab := NewSymbolTable([]DebugSymbol{{Name: "late", Addr: 0, Size: 0x100}})
	d.SetSymbols(tab)
	if fn, _, _ := profSymbolize(lo + 8); fn != "late" {
		t.Errorf("after SetSymbols: %q, want late", fn)
	}
	if got := profTraceback(lo+8, 0, 0, 4); len(got) != 1 {
		t.Errorf("after SetSymbols: traceback %#x", got)
	}
	d.Remove()
	d.SetSymbols(tab)
	if got := profTraceback(lo+8, 0, 0, 4); len(got) != 0 {
		t.Errorf("SetSymbols after Remove revived the object: traceback %#x", got)
	}
}

// TestProfTracebackWalk drives the frame walk on a fake stack: a frameless
// leaf's return address at sp (in the link register on AArch64), then a
// frame-pointer chain; and never
// faults where a frame pointer leads into unmapped memory below the
// protected call's frame.
func TestProfTracebackWalk(t *testing.T) {
	const lo, hi = 0x5300_0000_0000, 0x5300_0000_1000
	d := AddDebugObject(&DebugInfo{Name: "walk.so", Base: lo, TextLo: lo, TextHi: hi, Symbols: NewSymbolTable([]DebugSymbol{
		{Name: "leaf", Addr: 0x100, Size: 0x100}, {Name: "mid", Addr: 0x200, Size: 0x100}, {Name: "outer", Addr: 0x300, Size: 0x100},
	})})
	defer d.Remove()
	page := unix.Getpagesize()
	mem, err := unix.Mmap(-1, 0, 3*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	base := uintptr(unsafe.Pointer(&mem[0]))
	word := func(off int, v uintptr) { *(*uintptr)(unsafe.Pointer(&mem[off])) = v }
	top := base + uintptr(3*page) - 64
	// sp: the leaf's return address into mid; fp: mid's frame, whose
	// saved frame pointer is outer's frame and return address is into outer; outer's
	// frame returns outside runplug (the walk ends there).
	sp, fpMid, fpOuter := base+64, base+256, base+512
	word(64, lo+0x210)
	word(256, fpOuter)
	word(264, lo+0x310)
	word(512, top-16)
	word(520, 0x1234)
	got := profTracebackIn(lo+0x120, sp, fpMid, lo+0x210, top, 16)
	want := []uintptr{lo + 0x120, lo + 0x210, lo + 0x310}
	if len(got) < 2 || fmt.Sprint(got[:2]) != fmt.Sprint(want[:2]) {
		t.Fatalf("walk: %#x, want %#x first", got, want[:2])
	}
	// The chain is read with process_vm_readv, which qemu-user lacks
	// (ENOSYS): there the walk stops after the leaf.
	testenv.NeedNative(t, "process_vm_readv, the frame walk's reads")
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("walk: %#x, want %#x", got, want)
	}
	// A frame pointer into an unmapped page (the middle one) below top.
	if err := unix.Mprotect(mem[page:2*page], unix.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	got = profTracebackIn(lo+0x120, base+uintptr(page)+8, base+uintptr(page)+64, 0, top, 16)
	if len(got) != 1 || got[0] != lo+0x120 {
		t.Errorf("walk into unmapped memory: %#x, want just the PC", got)
	}
}

// TestProfTableBounded closes many objects: the table keeps at most 64
// closed ones, dropping the oldest, and every live one.
func TestProfTableBounded(t *testing.T) {
	before := profLive()
	var ds []*DebugObject
	for i := 0; i < 100; i++ {
		lo := uintptr(0x4000_0000_0000 + i<<16)
		ds = append(ds, AddDebugObject(&DebugInfo{Name: "many.so", TextLo: lo, TextHi: lo + 0x1000, Symbols: NewSymbolTable([]DebugSymbol{{Name: fmt.Sprint("f", i), Addr: lo, Size: 16}})}))
	}
	if got := profLive(); got != before+100 {
		t.Fatalf("%d live objects, want %d", got, before+100)
	}
	for _, d := range ds {
		d.Remove()
	}
	if got := profLive(); got != before {
		t.Fatalf("%d live objects after closing, want %d", got, before)
	}
	if fn, _, _ := profSymbolize(0x4000_0000_0000 + 99<<16); fn != "f99" {
		t.Errorf("newest closed object: %q, want f99", fn)
	}
	if fn, _, _ := profSymbolize(0x4000_0000_0000); fn != "" {
		t.Errorf("oldest closed object still named %q: more than 64 kept", fn)
	}
}

// TestProfChainsToHost: PCs outside runplug's objects go to the host's
// traceback and symbolizer; PCs inside do not.
func TestProfChainsToHost(t *testing.T) {
	host, calls := testHostFuncs()
	setProfHost(host)
	defer setProfHost(CgoTracebackFuncs{})
	const lo, hi = 0x5100_0000_0000, 0x5100_0000_1000
	d := AddDebugObject(&DebugInfo{Name: "chain.so", TextLo: lo, TextHi: hi, Symbols: NewSymbolTable([]DebugSymbol{{Name: "f", Addr: lo, Size: 0x100}})})
	defer d.Remove()
	n := calls()
	if got := profTraceback(lo+8, 0, 0, 8); len(got) != 1 || calls() != n {
		t.Errorf("inside: traceback %#x, host called %d times", got, calls()-n)
	}
	if fn, _, _ := profSymbolize(lo + 8); fn != "f" || calls() != n {
		t.Errorf("inside: symbolized %q, host called %d times", fn, calls()-n)
	}
	profTraceback(hi+8, 0, 0, 8)
	if calls() != n+1 {
		t.Errorf("outside: the host's traceback was not called")
	}
	profSymbolize(hi + 8) // the host's symbolizer: the lookup and the closing call
	if calls() != n+3 {
		t.Errorf("outside: the host's symbolizer was called %d times, want 2", calls()-n-1)
	}
}

// TestSetCgoTraceback runs its cases in a child process: the runtime takes
// one set of cgo traceback functions per process.
func TestSetCgoTraceback(t *testing.T) {
	switch os.Getenv("RUNPLUG_TB_CHILD") {
	case "ours-first":
		host, _ := testHostFuncs()
		if err := SetCgoTraceback(host); err != nil {
			t.Fatalf("first: %v", err)
		}
		if err := SetCgoTraceback(host); err != nil {
			t.Fatalf("again with the same host functions: %v", err)
		}
		if err := SetCgoTraceback(CgoTracebackFuncs{}); !errors.Is(err, ErrCgoTraceback) {
			t.Fatalf("again with other host functions: %v, want ErrCgoTraceback", err)
		}
		defer func() {
			if recover() == nil {
				t.Fatal("runtime.SetCgoTraceback after runplug's did not panic")
			}
		}()
		runtime.SetCgoTraceback(0, host.Traceback, nil, host.Symbolizer)
		return
	case "host-first":
		host, _ := testHostFuncs()
		runtime.SetCgoTraceback(0, host.Traceback, nil, host.Symbolizer)
		if err := SetCgoTraceback(CgoTracebackFuncs{}); !errors.Is(err, ErrCgoTraceback) {
			t.Fatalf("after the host's own: %v, want ErrCgoTraceback", err)
		}
		return
	case "":
	default:
		t.Skip("another child case")
	}
	for _, c := range []string{"ours-first", "host-first"} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestSetCgoTraceback$", "-test.v")
		cmd.Env = append(os.Environ(), "RUNPLUG_TB_CHILD="+c)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestSetCgoTraceback") {
			t.Errorf("%s: %v\n%s", c, err, out)
		}
	}
}

// The TestProf* tests read the traceback's table without installing a
// cgo traceback (runtime.SetCgoTraceback can be called once per process;
// TestSetCgoTraceback does it in a child): fill the table as if installed.
func init() { profOn = true }

// TestProfFilledWhenInstalled: with no cgo traceback installed an object
// is not entered in the traceback's table (a load pays for the debugger's
// list only); installing one enters every object registered before, with
// its symbols, and none that was removed.
func TestProfFilledWhenInstalled(t *testing.T) {
	profMu.Lock()
	profOn = false
	profMu.Unlock()
	t.Cleanup(func() { profAddRegistered() })
	before := profLive()
	syms := NewSymbolTable([]DebugSymbol{{Name: "lazy_fn", Addr: 0x10, Size: 16}})
	live := AddDebugObject(&DebugInfo{Name: "lazy.so", TextLo: 0x4800_0000_0000, TextHi: 0x4800_0000_1000, Base: 0x4800_0000_0000, Symbols: syms})
	gone := AddDebugObject(&DebugInfo{Name: "gone.so", TextLo: 0x4801_0000_0000, TextHi: 0x4801_0000_1000})
	gone.Remove()
	if got := profLive(); got != before {
		t.Fatalf("before install: %d live objects in the table, want %d", got, before)
	}
	profAddRegistered()
	if got := profLive(); got != before+1 {
		t.Fatalf("after install: %d live objects in the table, want %d", got, before+1)
	}
	if name, _, _ := profSymbolize(0x4800_0000_0018); name != "lazy_fn" {
		t.Errorf("symbolize after install: %q, want lazy_fn", name)
	}
	live.Remove()
}
