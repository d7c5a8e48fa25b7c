package tlsrt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"github.com/runplug/runplug/internal/pcall"
)

// tlsTemplate is a template in Go memory that outlives the tests' modules
// (the Go heap does not move): C reads it when a thread first touches a
// module.
var tlsTemplate = []byte("thread-local template bytes!")

// tlsAddr calls rp_tls_get_addr for (module, offset) through a native
// caller inside a protected call, as plugin code does.
func tlsAddr(t *testing.T, module, offset uint64) uintptr {
	t.Helper()
	a, err := tlsAddrErr(module, offset)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// tlsAddrErr is tlsAddr for goroutines other than the test's.
func tlsAddrErr(module, offset uint64) (uintptr, error) {
	r, err := pcall.Call(fixtureTLSGetAddr(), &pcall.Args{Int: [6]uint64{module, offset}})
	if err != nil {
		return 0, fmt.Errorf("__tls_get_addr(%d, %d): %w", module, offset, err)
	}
	return uintptr(r.Int), nil
}

// cBytes reads n bytes of C memory at a.
func cBytes(a uintptr, n int) []byte {
	return bytes.Clone(unsafe.Slice((*byte)(cMem(a)), n))
}

// cMem turns the address of C memory (a TLS block, which Go's collector
// never sees) into a pointer.
func cMem(a uintptr) unsafe.Pointer { return unsafe.Add(nil, a) }

func newTestModule(t *testing.T, filesz, memsz, align uint64) *TLSModule {
	t.Helper()
	m, err := NewTLSModule(uintptr(unsafe.Pointer(&tlsTemplate[0])), filesz, memsz, align)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Free)
	return m
}

func TestTLSBlockContents(t *testing.T) {
	tests := []struct {
		name                 string
		filesz, memsz, align uint64
	}{
		{"template only", uint64(len(tlsTemplate)), uint64(len(tlsTemplate)), 1},
		{"template and zeroes", 8, 200, 8},
		{"aligned 64", 5, 64, 64},
		{"aligned 4096", 16, 10000, 4096},
		{"all zero", 0, 32, 16},
		{"empty", 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Each subtest runs on a goroutine of its own: lock that one,
			// so that every __tls_get_addr below asks the same thread.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			m := newTestModule(t, tc.filesz, tc.memsz, tc.align)
			if m.ID() == 0 || m.ID() > MaxTLSModules {
				t.Fatalf("id %d outside [1, %d]", m.ID(), MaxTLSModules)
			}
			a := tlsAddr(t, m.ID(), 0)
			if a == 0 {
				t.Fatal("block at 0")
			}
			if tc.align > 1 && a%uintptr(tc.align) != 0 {
				t.Errorf("block %#x not aligned to %d", a, tc.align)
			}
			got := cBytes(a, int(tc.memsz))
			want := make([]byte, tc.memsz)
			copy(want, tlsTemplate[:tc.filesz])
			if !bytes.Equal(got, want) {
				t.Errorf("block = %q, want %q", got, want)
			}
			if tc.memsz > 3 {
				if b := tlsAddr(t, m.ID(), 3); b != a+3 {
					t.Errorf("offset 3: %#x, want %#x", b, a+3)
				}
			}
			if b := tlsAddr(t, m.ID(), 0); b != a {
				t.Errorf("second call: %#x, want the same block %#x", b, a)
			}
		})
	}
}

func TestTLSPerThread(t *testing.T) {
	m := newTestModule(t, 4, 16, 16)
	const threads = 3
	addrs := make([]uintptr, threads)
	var wg sync.WaitGroup
	release := make(chan struct{})
	for i := range addrs {
		wg.Add(1)
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			a, err := tlsAddrErr(m.ID(), 0)
			if err != nil {
				t.Error(err)
				wg.Done()
				return
			}
			addrs[i] = a
			// Write through the block: other threads must not see it.
			*(*byte)(cMem(addrs[i])) = byte('A' + i)
			wg.Done()
			<-release // hold the thread (and so the block) until all have one
		}()
	}
	wg.Wait()
	close(release)
	seen := map[uintptr]bool{}
	for i, a := range addrs {
		if seen[a] {
			t.Errorf("thread %d got block %#x that another thread has", i, a)
		}
		seen[a] = true
	}
}

func TestTLSFreeAndReuse(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	m1, err := NewTLSModule(uintptr(unsafe.Pointer(&tlsTemplate[0])), 4, 8, 8)
	if err != nil {
		t.Fatal(err)
	}
	a := tlsAddr(t, m1.ID(), 0)
	*(*byte)(cMem(a + 5)) = 0x7f // dirty the zeroed part
	held, live := TLSThreadBlocks(), TLSLiveBlocks()
	gen := m1.Generation()
	id := m1.ID()
	m1.Free()
	m1.Free() // twice is harmless
	if g := m1.Generation(); g == gen {
		t.Errorf("generation %d unchanged by Free", g)
	}
	// A freed id aborts the call that asks for it.
	_, err = pcall.Call(fixtureTLSGetAddr(), &pcall.Args{Int: [6]uint64{id, 0}})
	var ae *pcall.AbortError
	if !errors.As(err, &ae) || ae.Code != TLSAbortModule {
		t.Fatalf("freed module: %v, want an AbortError with code %#x", err, TLSAbortModule)
	}
	// The lowest free id is reused: this thread's block of m1 is stale.
	m2 := newTestModule(t, 8, 8, 8)
	if m2.ID() != id {
		t.Fatalf("new module got id %d, want the freed %d", m2.ID(), id)
	}
	if m2.Generation() != m1.Generation() {
		t.Errorf("new module generation %d, want %d", m2.Generation(), m1.Generation())
	}
	b := tlsAddr(t, m2.ID(), 0)
	if got, want := cBytes(b, 8), tlsTemplate[:8]; !bytes.Equal(got, want) {
		t.Errorf("block after reuse = %q, want a fresh copy of %q", got, want)
	}
	if h, l := TLSThreadBlocks(), TLSLiveBlocks(); h != held || l != live {
		t.Errorf("blocks after reuse: thread %d, all %d; want %d, %d (the stale block freed)", h, l, held, live)
	}
}

func TestTLSBadIndex(t *testing.T) {
	tests := []struct {
		name   string
		module uint64
	}{
		{"zero", 0},
		{"past the table", MaxTLSModules + 1},
		{"huge", ^uint64(0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pcall.Call(fixtureTLSGetAddr(), &pcall.Args{Int: [6]uint64{tc.module, 0}})
			var ae *pcall.AbortError
			if !errors.As(err, &ae) || ae.Code != TLSAbortModule {
				t.Fatalf("module %d: %v, want an AbortError with code %#x", tc.module, err, TLSAbortModule)
			}
		})
	}
}

func TestTLSModuleTableFull(t *testing.T) {
	var mods []*TLSModule
	defer func() {
		for _, m := range mods {
			m.Free()
		}
	}()
	var err error
	for len(mods) <= MaxTLSModules {
		var m *TLSModule
		if m, err = NewTLSModule(0, 0, 8, 8); err != nil {
			break
		}
		mods = append(mods, m)
	}
	if !errors.Is(err, ErrTLSModulesFull) {
		t.Fatalf("after %d modules: %v, want ErrTLSModulesFull", len(mods), err)
	}
	if len(mods) == 0 || len(mods) > MaxTLSModules {
		t.Fatalf("%d modules registered before the table was full, want 1 to %d", len(mods), MaxTLSModules)
	}
	last := mods[len(mods)-1]
	id := last.ID()
	last.Free()
	m, err := NewTLSModule(0, 0, 8, 8)
	if err != nil {
		t.Fatalf("after a Free: %v", err)
	}
	mods[len(mods)-1] = m
	if m.ID() != id {
		t.Errorf("id %d, want the freed %d", m.ID(), id)
	}
}

func TestTLSInvalidModule(t *testing.T) {
	tests := []struct {
		name                 string
		image                uintptr
		filesz, memsz, align uint64
	}{
		{"filesz over memsz", 1, 16, 8, 8},
		{"align not a power of two", 1, 8, 8, 24},
		{"template at 0", 0, 8, 8, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewTLSModule(tc.image, tc.filesz, tc.memsz, tc.align)
			if err == nil || errors.Is(err, ErrTLSModulesFull) {
				m.Free()
				t.Fatalf("NewTLSModule: %v, want an invalid-argument error", err)
			}
		})
	}
}

// A thread's blocks are freed when it exits: a goroutine that ends locked
// to its thread takes the thread with it. The thread's exit reports the
// blocks it freed through a pipe (no polling of the process-wide count,
// which other threads change).
func TestTLSThreadExitFreesBlocks(t *testing.T) {
	m := newTestModule(t, 4, 4096, 64)
	m2 := newTestModule(t, 0, 16, 8)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if dl, ok := t.Deadline(); ok {
		r.SetReadDeadline(dl)
	}
	held := make(chan int)
	goOffMainThread(func() {
		// Never unlocked: the thread exits with the goroutine.
		for _, id := range []uint64{m.ID(), m2.ID()} {
			if _, err := tlsAddrErr(id, 0); err != nil {
				t.Error(err)
			}
		}
		notifyTLSExit(int(w.Fd()))
		held <- TLSThreadBlocks()
	})
	n := <-held
	if n != 2 {
		t.Fatalf("thread holds %d blocks after touching two modules, want 2", n)
	}
	var buf [8]byte
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		t.Fatalf("waiting for the thread's exit: %v", err)
	}
	if freed := int64(binary.LittleEndian.Uint64(buf[:])); freed != int64(n) {
		t.Errorf("the thread's exit freed %d blocks, want the %d it held", freed, n)
	}
}

// goOffMainThread runs fn in a new goroutine locked to a thread that is
// not the process's main thread, and lets the goroutine end locked, which
// ends its thread (a goroutine that ends locked to the main thread wedges
// it instead: the thread never exits). While a goroutine that landed on
// the main thread holds it, the next one cannot land there.
func goOffMainThread(fn func()) {
	go func() {
		runtime.LockOSThread()
		if !onMainThread() {
			fn()
			return // locked: the thread exits
		}
		started := make(chan struct{})
		goOffMainThread(func() { close(started); fn() })
		<-started
		runtime.UnlockOSThread()
	}()
}

// A template that cannot be read faults the call (the fault is trapped as
// any fault in a protected call is) and leaves the runtime usable: no lock
// is held across the copy, and the half-made block is replaced, not
// leaked, on the next try.
func TestTLSTemplateFault(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ps := os.Getpagesize()
	page, err := syscall.Mmap(-1, 0, ps, syscall.PROT_NONE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(page)
	bad, err := NewTLSModule(uintptr(unsafe.Pointer(&page[0])), 16, 32, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Free()
	good := newTestModule(t, 8, 8, 8)
	var held []int
	for i := 0; i < 2; i++ {
		_, err := pcall.Call(fixtureTLSGetAddr(), &pcall.Args{Int: [6]uint64{bad.ID(), 0}})
		var fe *pcall.FaultError
		if !errors.As(err, &fe) || fe.Signal != syscall.SIGSEGV {
			t.Fatalf("try %d: %v, want a SIGSEGV FaultError", i, err)
		}
		a := tlsAddr(t, good.ID(), 0)
		if got := cBytes(a, 8); !bytes.Equal(got, tlsTemplate[:8]) {
			t.Errorf("try %d: another module's block = %q after the fault", i, got)
		}
		held = append(held, TLSThreadBlocks())
	}
	if held[1] != held[0] {
		t.Errorf("thread blocks %d after one faulted copy, %d after two: the cut-short block leaked", held[0], held[1])
	}
}
