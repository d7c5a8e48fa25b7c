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
// pages, [guard][code R-X][data RW-][guard], holding machine code written
// by the test (testFuncs: image_amd64_test.go, image_arm64_test.go), registered with the sandbox under name.
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

// has reports whether the image holds the named function (some exist on
// one architecture only).
func (m *testImage) has(name string) bool {
	for _, s := range m.syms {
		if s.name == name {
			return true
		}
	}
	return false
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
