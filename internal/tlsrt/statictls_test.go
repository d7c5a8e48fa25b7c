//go:build linux && (amd64 || arm64) && cgo

package tlsrt

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/pcall"
)

// staticBytes reads n bytes of the calling thread's static TLS at off from
// the thread pointer.
func staticBytes(off int64, n int) []byte {
	return cBytes(uintptr(int64(fixtureThreadPointer())+off), n)
}

// threadProbe is a goroutine locked to an OS thread of its own that runs
// the functions sent to it on that thread, until stop is called.
type threadProbe struct {
	fns  chan func()
	done chan struct{}
}

func newThreadProbe() *threadProbe {
	p := &threadProbe{fns: make(chan func()), done: make(chan struct{})}
	started := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		close(started)
		for fn := range p.fns {
			fn()
			p.done <- struct{}{}
		}
	}()
	<-started // the thread exists from here on
	return p
}

func (p *threadProbe) run(fn func()) { p.fns <- fn; <-p.done }
func (p *threadProbe) stop()         { close(p.fns) }

// threadIDs returns the ids of the process's threads now.
func threadIDs(t *testing.T) map[int]bool {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int]bool{}
	for _, e := range ents {
		if id, err := strconv.Atoi(e.Name()); err == nil {
			ids[id] = true
		}
	}
	return ids
}

// newThreadProbeAfter returns a probe on a thread that is not in old:
// one created after old was taken. Go reuses idle threads, so probes are
// started (and kept, each holding its thread) until one runs on a new
// thread; stop stops them all.
func newThreadProbeAfter(t *testing.T, old map[int]bool) (p *threadProbe, stop func()) {
	t.Helper()
	var held []*threadProbe
	stop = func() {
		for _, h := range held {
			h.stop()
		}
	}
	for {
		p := newThreadProbe()
		held = append(held, p)
		var tid int
		p.run(func() { tid = unix.Gettid() })
		if !old[tid] {
			return p, stop
		}
		if len(held) > 10000 {
			stop()
			t.Fatal("no new thread after 10000 locked goroutines")
		}
	}
}

func newStaticModule(t *testing.T, template []byte, memsz, align uint64) *TLSModule {
	t.Helper()
	var image uintptr
	if len(template) > 0 {
		image = uintptr(unsafe.Pointer(&template[0]))
	}
	m, err := NewTLSModule(image, uint64(len(template)), memsz, align)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Free)
	if err := m.MakeStatic(); err != nil {
		t.Fatal(err)
	}
	return m
}

// The stand-in is an object debug/elf reads as we mean it.
func TestStaticTLSObject(t *testing.T) {
	img, err := staticTLSObject([]byte("tmpl"), 40, 16)
	if err != nil {
		t.Fatal(err)
	}
	// elfmap, runplug's own parser, checks it as it checks any object.
	f, err := elfimage.Parse(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	if p := f.TLS; p == nil || p.Filesz != 4 || p.Memsz != 40 || p.Align != 16 || p.Vaddr%16 != 0 {
		t.Fatalf("PT_TLS %+v, want filesz 4, memsz 40, align 16, aligned vaddr", p)
	}
	if f.Dynamic.Flags&elf.DF_STATIC_TLS == 0 {
		t.Errorf("DT_FLAGS %#x, want DF_STATIC_TLS", f.Dynamic.Flags)
	}
	var names []string
	for _, s := range f.Dynamic.Symbols[1:] {
		names = append(names, fmt.Sprintf("%s/%v", s.Name, s.Type))
	}
	if want := []string{staticTLSBlockSym + "/STT_TLS", staticTLSSlotSym + "/STT_OBJECT"}; fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("dynamic symbols %v, want %v", names, want)
	}
	rs, err := f.ReadRelocs(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	if f.Machine != standIn.machine {
		t.Errorf("machine %v, want %v", f.Machine, standIn.machine)
	}
	if len(rs.Rela) != 1 || rs.Rela[0].Type != standIn.tpoff || rs.Rela[0].Sym != 1 {
		t.Errorf("relocations %+v, want one of type %d (TPOFF64) against symbol 1", rs.Rela, standIn.tpoff)
	}
	for _, bad := range []struct{ memsz, align uint64 }{{40, 24}, {40, 8192}, {3, 8}} {
		if _, err := staticTLSObject([]byte("tmpl"), bad.memsz, bad.align); err == nil {
			t.Errorf("memsz %d align %d: no error", bad.memsz, bad.align)
		}
	}
}

// glibc gives a static block that every thread sees initialised at the
// same offset: threads that existed before, the calling one, threads
// created after; each has its own copy.
func TestStaticTLSEveryThread(t *testing.T) {
	template := []byte("static template!")
	const memsz = 48
	before := newThreadProbe()
	defer before.stop()
	m := newStaticModule(t, template, memsz, 16)
	off, ok := m.StaticOffset()
	if !ok || (off < 0) != staticBelowTP || off == 0 || off%16 != 0 {
		t.Fatalf("StaticOffset = %d, %v; want a multiple of 16, below the thread pointer %v", off, ok, staticBelowTP)
	}
	want := append(append([]byte(nil), template...), make([]byte, memsz-len(template))...)
	check := func(who string, write byte) {
		if got := m.static.offsetHere(); got != off {
			t.Errorf("%s: dlsym minus the thread pointer = %d, want %d", who, got, off)
		}
		if got := staticBytes(off, memsz); !bytes.Equal(got, want) {
			t.Errorf("%s: block %q, want %q", who, got, want)
		}
		// __tls_get_addr of a static module is the same place.
		a, err := tlsAddrErr(m.ID(), 5)
		if err != nil {
			t.Error(err)
		} else if want := uintptr(int64(fixtureThreadPointer()) + off + 5); a != want {
			t.Errorf("%s: __tls_get_addr = %#x, want %#x", who, a, want)
		}
		*(*byte)(cMem(uintptr(int64(fixtureThreadPointer()) + off))) = write
	}
	before.run(func() { check("thread created before", 'B') })
	runtime.LockOSThread()
	check("calling thread", 'C')
	runtime.UnlockOSThread()
	// Threads that exist now were all there after the load: one that
	// is not in this list was created later (and was not the one the
	// test goroutine used above).
	after, stopAfter := newThreadProbeAfter(t, threadIDs(t))
	defer stopAfter()
	after.run(func() { check("thread created after", 'A') })
	// Each wrote its own copy.
	before.run(func() {
		if got := staticBytes(off, 1)[0]; got != 'B' {
			t.Errorf("thread created before reads %q, want its own 'B'", got)
		}
	})
	after.run(func() {
		if got := staticBytes(off, 1)[0]; got != 'A' {
			t.Errorf("thread created after reads %q, want its own 'A'", got)
		}
	})
}

// Static TLS runs out: the error names the sizes and the tunable, and
// freeing what was taken (last first) gives all of it back. (The tunable
// the error names gives more room: TestStaticTLSTunable.)
func TestStaticTLSExhausted(t *testing.T) {
	const size = 256
	var mods []*TLSModule
	var err error
	for len(mods) < 1000 {
		var m *TLSModule
		if m, err = NewTLSModule(0, 0, size, staticAlign); err != nil {
			t.Fatal(err)
		}
		if err = m.MakeStatic(); err != nil {
			m.Free()
			break
		}
		mods = append(mods, m)
	}
	free := func() {
		for i := len(mods) - 1; i >= 0; i-- {
			mods[i].Free()
		}
	}
	defer free()
	var se *StaticTLSError
	if !errors.Is(err, ErrStaticTLSFull) || !errors.As(err, &se) {
		t.Fatalf("after %d blocks of %d bytes: %v, want a *StaticTLSError", len(mods), size, err)
	}
	t.Logf("%d blocks of %d bytes, then: %v", len(mods), size, err)
	for _, s := range []string{fmt.Sprintf("256 bytes aligned to %d", staticAlign), OptionalStaticTLSTunable, "runplug's live modules hold"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	if held, n := StaticTLSHeld(); n != len(mods) || held != uint64(n*size) {
		t.Errorf("StaticTLSHeld = %d bytes in %d, want %d in %d", held, n, len(mods)*size, len(mods))
	}
	n := len(mods)
	free()
	mods = nil
	// All of it came back: as many blocks fit again.
	for i := 0; i < n; i++ {
		m, err := NewTLSModule(0, 0, size, staticAlign)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.MakeStatic(); err != nil {
			m.Free()
			t.Fatalf("block %d of %d after freeing them all: %v", i+1, n, err)
		}
		mods = append(mods, m)
	}
}

// glibc's static TLS is aligned to its TCB's alignment (staticAlign): a
// block that asks for more is refused with the same error, naming the alignment.
func TestStaticTLSOverAligned(t *testing.T) {
	m, err := NewTLSModule(0, 0, 64, 128)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	err = m.MakeStatic()
	var se *StaticTLSError
	if !errors.As(err, &se) || se.Align != 128 || !strings.Contains(err.Error(), "aligned to 128") {
		t.Fatalf("MakeStatic of a block aligned to 128: %v, want a *StaticTLSError naming the alignment", err)
	}
	if _, ok := m.StaticOffset(); ok {
		t.Error("the module is static after a refusal")
	}
}

// Making and freeing a static module many times does not use the room up.
func TestStaticTLSReuse(t *testing.T) {
	template := []byte("0123456789")
	for i := 0; i < 2000; i++ {
		m, err := NewTLSModule(uintptr(unsafe.Pointer(&template[0])), uint64(len(template)), 200, 32)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.MakeStatic(); err != nil {
			m.Free()
			t.Fatalf("cycle %d: %v", i, err)
		}
		m.Free()
	}
	if held, n := StaticTLSHeld(); held != 0 || n != 0 {
		t.Errorf("StaticTLSHeld = %d bytes in %d after freeing every module", held, n)
	}
}

// tlsDescriptor is a TLS descriptor in memory that does not move.
var tlsDescriptor [2]uint64

func TestTLSDescriptors(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	logTLSDescSave(t)
	dyn := newTestModule(t, 8, 64, 16)
	arg, ok := TLSDescDynamicArg(dyn.ID(), 3)
	if !ok {
		t.Fatalf("TLSDescDynamicArg(%d, 3) refused", dyn.ID())
	}
	for i := 0; i < 2; i++ { // the slow path, then the fast path
		tlsDescriptor = [2]uint64{uint64(TLSDescDynamic()), arg}
		r, err := pcall.Call(fixtureTLSDesc(), &pcall.Args{Int: [6]uint64{uint64(uintptr(unsafe.Pointer(&tlsDescriptor)))}})
		if err != nil {
			t.Fatal(err)
		}
		if want := tlsAddr(t, dyn.ID(), 3); uintptr(r.Int) != want {
			t.Errorf("call %d: dynamic descriptor gives %#x, want __tls_get_addr's %#x", i, r.Int, want)
		}
	}
	st := newStaticModule(t, []byte("x"), 16, 8)
	off, _ := st.StaticOffset()
	tlsDescriptor = [2]uint64{uint64(TLSDescStatic()), uint64(off + 4)}
	r, err := pcall.Call(fixtureTLSDesc(), &pcall.Args{Int: [6]uint64{uint64(uintptr(unsafe.Pointer(&tlsDescriptor)))}})
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(int64(fixtureThreadPointer()) + off + 4); r.Int != want {
		t.Errorf("static descriptor gives %#x, want %#x", r.Int, want)
	}
	for _, bad := range []struct{ id, off uint64 }{{0, 0}, {MaxTLSModules + 1, 0}, {1, TLSDescMaxOffset + 1}} {
		if _, ok := TLSDescDynamicArg(bad.id, bad.off); ok {
			t.Errorf("TLSDescDynamicArg(%d, %#x) accepted", bad.id, bad.off)
		}
	}
}

// The dynamic resolver keeps every register but rax (x0 and x30 on
// AArch64) on its slow path even when __tls_get_addr overwrites every
// register it may (the test hook rp_tls_clobber_test), vector registers to
// their upper halves, and on its fast path; so does the static one.
func TestTLSDescriptorRegisters(t *testing.T) {
	widths := tlsDescWidths(t)
	st := newStaticModule(t, nil, 16, 8)
	off, _ := st.StaticOffset()
	for _, ymm := range widths {
		for _, clobber := range []uint64{0, 1} {
			t.Run(fmt.Sprintf("ymm=%d,clobber=%d", ymm, clobber), func(t *testing.T) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				dyn := newTestModule(t, 8, 64, 16) // a fresh module: the first call is the slow path
				arg, _ := TLSDescDynamicArg(dyn.ID(), 8)
				for i, path := range []string{"slow", "fast"} {
					tlsDescriptor = [2]uint64{uint64(TLSDescDynamic()), arg}
					want := uint64(0) // unknown before the block exists: checked on the fast path
					if i == 1 {
						want = uint64(tlsAddr(t, dyn.ID(), 8))
					}
					r, err := pcall.Call(fixtureTLSDescRegs(), &pcall.Args{Int: [6]uint64{uint64(uintptr(unsafe.Pointer(&tlsDescriptor))), want, ymm, clobber}})
					if err != nil {
						t.Fatal(err)
					}
					if r.Int != 1 {
						t.Errorf("dynamic resolver, %s path: %d, want 1", path, r.Int)
					}
				}
				tlsDescriptor = [2]uint64{uint64(TLSDescStatic()), uint64(off)}
				r, err := pcall.Call(fixtureTLSDescRegs(), &pcall.Args{Int: [6]uint64{uint64(uintptr(unsafe.Pointer(&tlsDescriptor))), uint64(int64(fixtureThreadPointer()) + off), ymm, clobber}})
				if err != nil {
					t.Fatal(err)
				}
				if r.Int != 1 {
					t.Errorf("static resolver: %d, want 1", r.Int)
				}
			})
		}
	}
}

// The tunable the error names gives more room: the exhaustion test, run in
// a child with GLIBC_TUNABLES=glibc.rtld.optional_static_tls=4096, fits
// (4096 - 512) / 256 = 14 more blocks of 256 bytes than with the default
// (13 allowed: alignment).
func TestStaticTLSTunable(t *testing.T) {
	count := func(env ...string) int {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestStaticTLSExhausted$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
		}
		m := regexp.MustCompile(`(\d+) blocks of 256 bytes, then:`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("no count in the child's output:\n%s", out)
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	n0 := count("GLIBC_TUNABLES=")
	n1 := count("GLIBC_TUNABLES=" + OptionalStaticTLSTunable + "=4096")
	t.Logf("blocks of 256 bytes: %d by default, %d with %s=4096", n0, n1, OptionalStaticTLSTunable)
	if n1 < n0+13 {
		t.Errorf("%d blocks with the tunable at 4096, %d without: want at least 13 more", n1, n0)
	}
}

// staticCapacity makes 256-byte static blocks until glibc refuses, frees
// them (last first, so all the room comes back) and returns how many fit.
func staticCapacity(t *testing.T) int {
	t.Helper()
	var mods []*TLSModule
	defer func() {
		for i := len(mods) - 1; i >= 0; i-- {
			mods[i].Free()
		}
	}()
	for len(mods) < 1000 {
		m, err := NewTLSModule(0, 0, 256, staticAlign)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.MakeStatic(); err != nil {
			m.Free()
			if !errors.Is(err, ErrStaticTLSFull) {
				t.Fatal(err)
			}
			return len(mods)
		}
		mods = append(mods, m)
	}
	t.Fatal("1000 static blocks and no refusal")
	return 0
}

// Freed out of order, nothing is lost: glibc takes a block back only when
// it is the last one carved (elf/dl-close.c), so a stand-in freed while a
// later one is live stays loaded until that one is freed, and both come
// back then. Run in a child process: if that failed, the room would be
// lost for good.
func TestStaticTLSOutOfOrder(t *testing.T) {
	const childEnv = "RUNPLUG_STATIC_TLS_ORDER_CHILD"
	if os.Getenv(childEnv) != "1" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStaticTLSOutOfOrder$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), childEnv+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestStaticTLSOutOfOrder") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		t.Logf("child:\n%s", out)
		return
	}
	pair := func() (a, b *TLSModule) {
		var err error
		if a, err = NewTLSModule(0, 0, 256, staticAlign); err == nil {
			err = a.MakeStatic()
		}
		if err == nil {
			if b, err = NewTLSModule(0, 0, 256, staticAlign); err == nil {
				err = b.MakeStatic()
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	}
	n0 := staticCapacity(t)
	a, b := pair()
	b.Free()
	a.Free()
	if n := staticCapacity(t); n != n0 {
		t.Errorf("after freeing two blocks last-first: %d fit, want all %d", n, n0)
	}
	a, b = pair()
	a.Free() // while b, carved after it, is live
	nWhile := staticCapacity(t)
	b.Free()
	n1 := staticCapacity(t)
	t.Logf("256-byte blocks that fit: %d; with the first of two freed: %d; both freed: %d", n0, nWhile, n1)
	if nWhile != n0-2 {
		t.Errorf("with the first of two freed, the second live: %d fit, want %d (the first waits for the second)", nWhile, n0-2)
	}
	if n1 != n0 {
		t.Errorf("after freeing two blocks first-first: %d fit, want all %d back", n1, n0)
	}
	if held, n := StaticTLSHeld(); held != 0 || n != 0 {
		t.Errorf("StaticTLSHeld = %d bytes in %d after freeing everything", held, n)
	}
}
