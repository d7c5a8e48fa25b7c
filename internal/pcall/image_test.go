package pcall

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"unsafe"
)

// testImage is a hand-made "plugin" for the tests: a reservation of four
// pages, [guard][code R-X][data RW-][guard], holding x86-64 machine code
// written by the test, registered with the sandbox under name.
type testImage struct {
	name       string
	mem        []byte // the whole reservation
	lo, hi     uintptr
	code, data uintptr
	page       uintptr
	syms       []testSym // ascending by offset
	reg        *Registration
}

type testSym struct {
	name string
	off  uintptr // from code
}

// testFunc is one function of a test image: its bytes, given the offset
// from the start of the code page at which it will be placed.
type testFunc struct {
	name string
	code func(off, page uintptr) []byte
}

func fixed(b ...byte) func(off, page uintptr) []byte {
	return func(uintptr, uintptr) []byte { return b }
}

func le32(v int32) []byte {
	return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
}

// testFuncs are the functions every test image holds. Offsets of the
// faulting instruction within each function are given in faultOff.
var testFuncs = []testFunc{
	{"add", fixed(0x48, 0x8d, 0x04, 0x37, 0xc3)}, // lea rax,[rdi+rsi]; ret
	{"sum6", fixed( // rax = rdi+rsi+rdx+rcx+r8+r9
		0x48, 0x89, 0xf8, 0x48, 0x01, 0xf0, 0x48, 0x01, 0xd0,
		0x48, 0x01, 0xc8, 0x4c, 0x01, 0xc0, 0x4c, 0x01, 0xc8, 0xc3)},
	{"fsum8", fixed( // xmm0 = xmm0+...+xmm7
		0xf2, 0x0f, 0x58, 0xc1, 0xf2, 0x0f, 0x58, 0xc2, 0xf2, 0x0f, 0x58, 0xc3,
		0xf2, 0x0f, 0x58, 0xc4, 0xf2, 0x0f, 0x58, 0xc5, 0xf2, 0x0f, 0x58, 0xc6,
		0xf2, 0x0f, 0x58, 0xc7, 0xc3)},
	{"null_read", fixed(0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0, 0xc3)},                          // mov rax,[0]; ret
	{"trap", fixed(0x0f, 0x0b)},                                                             // ud2
	{"div_zero", fixed(0x31, 0xc9, 0xb8, 1, 0, 0, 0, 0x99, 0xf7, 0xf9, 0xc3)},               // xor ecx,ecx; mov eax,1; cdq; idiv ecx
	{"write_text", fixed(0x48, 0x8d, 0x05, 0xf9, 0xff, 0xff, 0xff, 0xc6, 0x00, 0x00, 0xc3)}, // lea rax,[rip-7]; mov byte [rax],0
	{"read_past_end", func(off, page uintptr) []byte { // mov al,[first byte after the data page]; ret
		return append(append([]byte{0x8a, 0x05}, le32(int32(2*page-(off+6)))...), 0xc3)
	}},
	{"read_rdi", fixed(0x8a, 0x07, 0xc3)},                     // mov al,[rdi]; ret
	{"recurse", fixed(0xe8, 0xfb, 0xff, 0xff, 0xff)},          // call self
	{"spin", fixed(0xeb, 0xfe)},                               // jmp self
	{"enter_spin", fixed(0xc7, 0x07, 1, 0, 0, 0, 0xeb, 0xfe)}, // mov dword [rdi],1; jmp self
	{"breakpoint", fixed(0xcc, 0xc3)},                         // int3; ret
	{"arg0", fixed(0x48, 0x89, 0xf8, 0xc3)},                   // mov rax,rdi; ret
	{"arg1", fixed(0x48, 0x89, 0xf0, 0xc3)},                   // mov rax,rsi; ret
	{"arg2", fixed(0x48, 0x89, 0xd0, 0xc3)},                   // mov rax,rdx; ret
	{"arg3", fixed(0x48, 0x89, 0xc8, 0xc3)},                   // mov rax,rcx; ret
	{"arg4", fixed(0x4c, 0x89, 0xc0, 0xc3)},                   // mov rax,r8; ret
	{"arg5", fixed(0x4c, 0x89, 0xc8, 0xc3)},                   // mov rax,r9; ret
	{"vector_count", fixed(0x0f, 0xb6, 0xc0, 0xc3)},           // movzx eax,al; ret
}

func newTestImage(t testing.TB, name string) *testImage {
	t.Helper()
	m, err := makeTestImage(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.free)
	return m
}

// makeTestImage is newTestImage for code without a testing.TB (the crash
// child of TestMain); free releases the image.
func makeTestImage(name string) (*testImage, error) {
	page := uintptr(os.Getpagesize())
	mem, err := syscall.Mmap(-1, 0, int(4*page), syscall.PROT_NONE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil, fmt.Errorf("mmap: %w", err)
	}
	m := &testImage{name: name, mem: mem, page: page}
	m.lo = uintptr(unsafe.Pointer(&mem[0]))
	m.hi = m.lo + 4*page
	m.code = m.lo + page
	m.data = m.lo + 2*page
	if err := syscall.Mprotect(mem[page:3*page], syscall.PROT_READ|syscall.PROT_WRITE); err != nil {
		syscall.Munmap(mem)
		return nil, fmt.Errorf("mprotect: %w", err)
	}
	text := mem[page : 2*page]
	off := uintptr(0)
	for _, f := range testFuncs {
		b := f.code(off, page)
		copy(text[off:], b)
		m.syms = append(m.syms, testSym{f.name, off})
		off = (off + uintptr(len(b)) + 15) &^ 15
	}
	if err := syscall.Mprotect(text, syscall.PROT_READ|syscall.PROT_EXEC); err != nil {
		syscall.Munmap(mem)
		return nil, fmt.Errorf("mprotect: %w", err)
	}
	m.reg = Register(m.lo, m.hi, m)
	return m, nil
}

// free unregisters and unmaps the image.
func (m *testImage) free() {
	m.reg.Unregister()
	syscall.Munmap(m.mem)
}

// fn returns the address of the named function.
func (m *testImage) fn(name string) uintptr {
	for _, s := range m.syms {
		if s.name == name {
			return m.code + s.off
		}
	}
	panic("no test function " + name)
}

func (m *testImage) Name() string { return m.name }

func (m *testImage) DescribeAddr(a uintptr) string {
	switch {
	case a < m.code:
		return "guard page before " + m.name
	case a < m.data:
		return "segment 0 (R-X) of " + m.name
	case a < m.data+m.page:
		return "segment 1 (RW-) of " + m.name
	}
	return "guard page after " + m.name
}

func (m *testImage) SymbolAt(pc uintptr) (string, uintptr, bool) {
	if pc < m.code || pc >= m.data {
		return "", 0, false
	}
	off := pc - m.code
	i := sort.Search(len(m.syms), func(i int) bool { return m.syms[i].off > off })
	if i == 0 {
		return "", 0, false
	}
	return m.syms[i-1].name, off - m.syms[i-1].off, true
}

// tombstone describes the range of a closed test image.
type tombstone struct{ name string }

func (d tombstone) Name() string                             { return d.name + " (unloaded)" }
func (d tombstone) DescribeAddr(uintptr) string              { return "unloaded plugin " + d.name }
func (d tombstone) SymbolAt(uintptr) (string, uintptr, bool) { return "", 0, false }

// procStatus reads a "Key: value kB"-style number from /proc/self/status.
func procStatus(t testing.TB, key string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	var v int64
	for _, line := range strings.Split(string(b), "\n") {
		if n, _ := fmt.Sscanf(line, key+": %d", &v); n == 1 {
			return v
		}
	}
	t.Fatalf("no %s in /proc/self/status", key)
	return 0
}

// spinInside starts a CallContext of the image's enter_spin on another
// goroutine and returns once the plugin code has signalled that it runs
// (it stores 1 through its argument, then spins): a handshake. The
// channel gets the call's error once ctx is done.
func (m *testImage) spinInside(t testing.TB, ctx context.Context) <-chan error {
	t.Helper()
	inside := new(uint32) // Go heap: does not move; kept alive below
	done := make(chan error, 1)
	go func() {
		_, err := CallContext(ctx, m.fn("enter_spin"), &Args{Int: [6]uint64{uint64(uintptr(unsafe.Pointer(inside)))}})
		runtime.KeepAlive(inside)
		done <- err
	}()
	for atomic.LoadUint32(inside) == 0 {
		select {
		case err := <-done:
			t.Fatalf("enter_spin returned before it signalled: %v", err)
		default:
			runtime.Gosched()
		}
	}
	return done
}
