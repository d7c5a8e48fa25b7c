package pcall

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

func TestCallPassesRegisters(t *testing.T) {
	m := newTestImage(t, "regs.so")
	cos := hostSym(t, "libm.so.6", "cos", "")
	ldexp := hostSym(t, "libm.so.6", "ldexp", "")
	tests := []struct {
		name      string
		fn        uintptr
		args      *Args
		wantInt   uint64
		wantFloat float64
		checkInt  bool
	}{
		{"add", m.fn("add"), &Args{Int: [6]uint64{40, 2}}, 42, 0, true},
		{"add negative", m.fn("add"), &Args{Int: [6]uint64{uint64(1<<64 - 5), 3}}, uint64(1<<64 - 2), 0, true},
		{"sum6", m.fn("sum6"), &Args{Int: [6]uint64{1, 10, 100, 1000, 10000, 100000}}, 111111, 0, true},
		{"nil args", m.fn("sum6"), nil, 0, 0, true},
		{"fsum8", m.fn("fsum8"), &Args{Float: [8]float64{1, 2, 4, 8, 16, 32, 64, 128}}, 0, 255, false},
		{"libm cos", cos, &Args{Float: [8]float64{0}}, 0, 1, false},
		{"libm ldexp", ldexp, &Args{Int: [6]uint64{3}, Float: [8]float64{1.5}}, 0, 12, false},
		{"cgo fixture", fixtureAdd(), &Args{Int: [6]uint64{7, 8}}, 15, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Call(tt.fn, tt.args)
			if err != nil {
				t.Fatalf("Call: %v", err)
			}
			if tt.checkInt && r.Int != tt.wantInt {
				t.Errorf("Int = %d, want %d", r.Int, tt.wantInt)
			}
			if !tt.checkInt && r.Float != tt.wantFloat {
				t.Errorf("Float = %v, want %v", r.Float, tt.wantFloat)
			}
		})
	}
}

func hostSym(t testing.TB, lib, name, version string) uintptr {
	t.Helper()
	p := fixtureDlsym(name, version)
	if p == 0 {
		t.Fatalf("%s: no symbol %s %s", lib, name, version)
	}
	return p
}

func TestFaults(t *testing.T) {
	m := newTestImage(t, "faults.so")
	page := m.page
	abort := hostSym(t, "libc.so.6", "abort", "")

	// A file-backed page past the end of its (empty) file: SIGBUS.
	fd, err := memfd(t)
	if err != nil {
		t.Fatal(err)
	}
	busMem, err := syscall.Mmap(fd, 0, int(page), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatalf("mmap memfd: %v", err)
	}
	defer syscall.Munmap(busMem)
	busAddr := uintptr(unsafe.Pointer(&busMem[0]))
	// A host page with no access: SEGV_ACCERR outside any plugin.
	noneMem, err := syscall.Mmap(-1, 0, int(page), syscall.PROT_NONE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		t.Fatalf("mmap PROT_NONE: %v", err)
	}
	defer syscall.Munmap(noneMem)
	noneAddr := uintptr(unsafe.Pointer(&noneMem[0]))

	nullPC := m.fn("null_read") + faultOff["null_read"]
	tests := []faultCase{
		{name: "null read", fn: m.fn("null_read"), sig: syscall.SIGSEGV, code: 1, addr: 0,
			pc: nullPC, where: "not mapped", symbol: fmt.Sprintf("null_read+%#x", faultOff["null_read"]), plugin: "faults.so"},
		{name: "call NULL", fn: 0, sig: syscall.SIGSEGV, code: 1, addr: 0, where: "not mapped"},
		{name: "builtin trap", fn: m.fn("trap"), sig: syscall.SIGILL, code: 2, addr: m.fn("trap"),
			pc: m.fn("trap"), where: "segment 0 (R-X) of faults.so", symbol: "trap+0x0", plugin: "faults.so"},
		{name: "write own text", fn: m.fn("write_text"), sig: syscall.SIGSEGV, code: 2, addr: m.fn("write_text"),
			pc: m.fn("write_text") + faultOff["write_text"], where: "segment 0 (R-X) of faults.so",
			symbol: fmt.Sprintf("write_text+%#x", faultOff["write_text"]), plugin: "faults.so"},
		{name: "jump into data (NX)", fn: m.data + 64, sig: syscall.SIGSEGV, code: 2, addr: m.data + 64,
			pc: m.data + 64, where: "segment 1 (RW-) of faults.so", plugin: "faults.so"},
		{name: "read past image end", fn: m.fn("read_past_end"), sig: syscall.SIGSEGV, code: 2, addr: m.hi - page,
			pc: m.fn("read_past_end"), where: "guard page after faults.so", symbol: "read_past_end+0x0", plugin: "faults.so"},
		{name: "read guard before", fn: m.fn("read_rdi"), arg0: uint64(m.lo + 8), sig: syscall.SIGSEGV, code: 2, addr: m.lo + 8,
			pc: m.fn("read_rdi"), where: "guard page before faults.so", symbol: "read_rdi+0x0", plugin: "faults.so"},
		{name: "read past end of file (SIGBUS)", fn: m.fn("read_rdi"), arg0: uint64(busAddr), sig: syscall.SIGBUS, code: 2, addr: busAddr,
			pc: m.fn("read_rdi"), where: "mapped, not a plugin", symbol: "read_rdi+0x0", plugin: "faults.so"},
		{name: "read host PROT_NONE page", fn: m.fn("read_rdi"), arg0: uint64(noneAddr) + 8, sig: syscall.SIGSEGV, code: segvAccerr, addr: noneAddr + 8,
			pc: m.fn("read_rdi"), where: "mapped, not a plugin", symbol: "read_rdi+0x0", plugin: "faults.so"},
		{name: "abort", fn: abort, sig: syscall.SIGABRT, code: siTkill, addr: 0, where: ""},
		{name: "unbounded recursion", fn: m.fn("recurse"), sig: syscall.SIGSEGV, code: 0, addr: 0,
			pc: m.fn("recurse"), where: "stack overflow", symbol: "recurse+0x0", plugin: "faults.so", lockThread: true},
	}
	tests = append(tests, archFaultCases(m)...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.lockThread {
				// Check that the very thread whose stack overflowed
				// can make calls afterwards.
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
			}
			_, err := Call(tt.fn, &Args{Int: [6]uint64{tt.arg0}})
			var fe *FaultError
			if !errors.As(err, &fe) {
				t.Fatalf("Call error = %v, want a *FaultError", err)
			}
			t.Logf("%v", fe)
			if fe.Signal != tt.sig {
				t.Errorf("Signal = %v, want %v", fe.Signal, tt.sig)
			}
			if tt.name == "unbounded recursion" {
				// The code is SEGV_MAPERR or SEGV_ACCERR depending on
				// the stack's guard (Where checks the address is by
				// the stack pointer).
				if fe.Addr == 0 || (fe.Code != 1 && fe.Code != 2) {
					t.Errorf("Addr = %#x, Code = %d; want a stack address, SEGV_MAPERR or SEGV_ACCERR", fe.Addr, fe.Code)
				}
			} else {
				if fe.Code != tt.code {
					t.Errorf("Code = %d (%s), want %d", fe.Code, CodeName(fe.Signal, fe.Code), tt.code)
				}
				if fe.Addr != tt.addr {
					t.Errorf("Addr = %#x, want %#x", fe.Addr, tt.addr)
				}
			}
			if (tt.pc != 0 || tt.fn == 0) && fe.PC != tt.pc {
				t.Errorf("PC = %#x, want %#x", fe.PC, tt.pc)
			}
			if fe.Where != tt.where {
				t.Errorf("Where = %q, want %q", fe.Where, tt.where)
			}
			if tt.pc != 0 && fe.Symbol != tt.symbol {
				t.Errorf("Symbol = %q, want %q", fe.Symbol, tt.symbol)
			}
			if fe.Plugin != tt.plugin {
				t.Errorf("Plugin = %q, want %q", fe.Plugin, tt.plugin)
			}
			if tt.sig == syscall.SIGABRT {
				if !strings.Contains(fe.Object, "libc.so.6") {
					t.Errorf("Object = %q, want libc.so.6", fe.Object)
				}
			}
			// A healthy call right after, on the same thread when locked.
			r, err := Call(m.fn("add"), &Args{Int: [6]uint64{2, 3}})
			if err != nil || r.Int != 5 {
				t.Fatalf("healthy call after fault = %d, %v; want 5, nil", r.Int, err)
			}
		})
	}
}

// faultCase is one fault TestFaults provokes and what the FaultError
// must say of it.
type faultCase struct {
	name       string
	fn         uintptr
	arg0       uint64
	sig        syscall.Signal
	code       int32
	addr       uintptr // 0 for "don't check" when anyAddr
	pc         uintptr // 0: don't check (outside our image)
	where      string
	symbol     string
	plugin     string
	lockThread bool
}

func TestTombstone(t *testing.T) {
	m := newTestImage(t, "gone.so")
	fn := m.fn("add")
	if r, err := Call(fn, &Args{Int: [6]uint64{1, 1}}); err != nil || r.Int != 2 {
		t.Fatalf("before close: %d, %v", r.Int, err)
	}
	// "Close": the range stays reserved PROT_NONE, described as unloaded.
	if err := syscall.Mprotect(m.mem, syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	m.reg.Replace(tombstone{"gone.so"})
	_, err := Call(fn, &Args{Int: [6]uint64{1, 1}})
	var fe *FaultError
	if !errors.As(err, &fe) {
		t.Fatalf("stale call error = %v, want *FaultError", err)
	}
	if fe.Signal != syscall.SIGSEGV || fe.Addr != fn || fe.PC != fn {
		t.Errorf("fault = %v, want SIGSEGV at and pc %#x", fe, fn)
	}
	if fe.Where != "unloaded plugin gone.so" || fe.Plugin != "gone.so (unloaded)" {
		t.Errorf("Where = %q, Plugin = %q", fe.Where, fe.Plugin)
	}
}

func TestFaultErrorString(t *testing.T) {
	tests := []struct {
		e    FaultError
		want string
	}{
		{FaultError{Signal: syscall.SIGSEGV, Code: 1, Addr: 0, PC: 0x7f0000001004, Where: "not mapped", Symbol: "crash_null+0x4", Plugin: "faults.so"},
			"SIGSEGV (SEGV_MAPERR) at 0x0: not mapped; pc 0x7f0000001004: crash_null+0x4 in faults.so"},
		{FaultError{Signal: syscall.SIGBUS, Code: 2, Addr: 0x1000, PC: 0x2000, Where: "mapped, not a plugin"},
			"SIGBUS (BUS_ADRERR) at 0x1000: mapped, not a plugin; pc 0x2000"},
		{FaultError{Signal: syscall.SIGABRT, Code: siTkill, PC: 0x3000, Symbol: "pthread_kill+0x10", Object: "/lib/x86_64-linux-gnu/libc.so.6"},
			"SIGABRT (SI_TKILL): abort; pc 0x3000: pthread_kill+0x10 in libc.so.6"},
		{FaultError{Signal: syscall.SIGFPE, Code: 1, Addr: 0x10, PC: 0x10, Where: "segment 0 (R-X) of a.so", Plugin: "a.so"},
			"SIGFPE (FPE_INTDIV) at 0x10: segment 0 (R-X) of a.so; pc 0x10 in a.so"},
		{FaultError{Signal: syscall.SIGILL, Code: 99, Addr: 0x10, PC: 0x10, Where: "not mapped"},
			"SIGILL (code 99) at 0x10: not mapped; pc 0x10"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() =\n  %q\nwant\n  %q", got, tt.want)
		}
	}
}

func TestDeadline(t *testing.T) {
	m := newTestImage(t, "spin.so")
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	deadline, _ := ctx.Deadline()
	_, err := CallContext(ctx, m.fn("spin"), nil)
	returned := time.Now()
	if !errors.Is(err, ErrDeadline) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CallContext(spin) error = %v, want ErrDeadline and DeadlineExceeded", err)
	}
	var de *DeadlineError
	if !errors.As(err, &de) || de.PC != m.fn("spin") || de.Symbol != "spin+0x0" || de.Plugin != "spin.so" {
		t.Errorf("DeadlineError = %+v, want PC %#x spin+0x0 in spin.so", de, m.fn("spin"))
	}
	if returned.Before(deadline) {
		t.Errorf("returned at %v, %v before the deadline", returned, deadline.Sub(returned))
	}
	t.Logf("%v, %v after the deadline", err, returned.Sub(deadline))
	// The same thread is reusable, protected and unprotected.
	if r, err := Call(m.fn("add"), &Args{Int: [6]uint64{20, 22}}); err != nil || r.Int != 42 {
		t.Fatalf("call after interrupt = %d, %v", r.Int, err)
	}
	if r := fixtureCall2(fixtureAdd(), 1, 2); r != 3 {
		t.Fatalf("cgo call after interrupt = %d", r)
	}

	// Cancellation (not a deadline) before and during the call.
	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel2)
	if _, err := CallContext(ctx2, m.fn("spin"), nil); !errors.Is(err, ErrDeadline) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled spin: %v", err)
	}
	_, err = CallContext(ctx2, m.fn("add"), nil)
	if !errors.As(err, &de) || de.PC != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("call with done context = %v, want DeadlineError before start", err)
	}

	// A call that finishes in time returns normally.
	ctx3, cancel3 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel3()
	if r, err := CallContext(ctx3, m.fn("add"), &Args{Int: [6]uint64{1, 2}}); err != nil || r.Int != 3 {
		t.Fatalf("in-time call = %d, %v", r.Int, err)
	}
}

// TestDeadlineRaces makes deadlines expire around the start and end of
// short calls: each call either completes correctly or reports ErrDeadline,
// and a late signal never disturbs a later call.
func TestDeadlineRaces(t *testing.T) {
	m := newTestImage(t, "race.so")
	n := 2000
	if testing.Short() {
		n = 300
	}
	// Timeouts cycle through 0 (done before the call: never started), 1
	// to 48 microseconds (racing the call's end) and an hour (must
	// complete).
	var interrupted, completed, early int
	for i := 0; i < n; i++ {
		timeout := time.Duration(i%50) * time.Microsecond
		if i%50 == 49 {
			timeout = time.Hour
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		deadline, _ := ctx.Deadline()
		r, err := CallContext(ctx, m.fn("add"), &Args{Int: [6]uint64{uint64(i), 1}})
		returned := time.Now()
		cancel()
		var de *DeadlineError
		switch {
		case err == nil && r.Int == uint64(i)+1:
			completed++
			if timeout == 0 {
				t.Fatalf("call %d with a done context completed", i)
			}
		case errors.As(err, &de) && errors.Is(err, ErrDeadline):
			interrupted++
			switch {
			case timeout == time.Hour:
				t.Fatalf("call %d interrupted an hour early: %v", i, err)
			case returned.Before(deadline):
				t.Fatalf("call %d interrupted %v before its deadline: %v", i, deadline.Sub(returned), err)
			case timeout == 0 && de.PC != 0:
				t.Fatalf("call %d with a done context started: %v", i, err)
			case de.PC == 0:
				early++
			}
		default:
			t.Fatalf("call %d = %d, %v", i, r.Int, err)
		}
		// The thread is clean for the next call, whatever the signal did.
		if r, err := Call(m.fn("add"), &Args{Int: [6]uint64{uint64(i), 2}}); err != nil || r.Int != uint64(i)+2 {
			t.Fatalf("plain call %d = %d, %v", i, r.Int, err)
		}
	}
	if completed < n/50 || interrupted < n/50 {
		t.Errorf("%d completed, %d interrupted of %d: want at least the %d that must", completed, interrupted, n, n/50)
	}
	t.Logf("%d completed, %d interrupted (%d before they started)", completed, interrupted, early)
}

func TestAbortAndCallbackState(t *testing.T) {
	_, err := Call(fixtureAbortCall(), &Args{Int: [6]uint64{42}})
	var ae *AbortError
	if !errors.As(err, &ae) || !errors.Is(err, ErrAborted) || ae.Code != 42 {
		t.Fatalf("abort call error = %v, want AbortError code 42", err)
	}
	r, err := Call(fixtureCallbackState(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// active before enter, cleared during the callback, restored after.
	if r.Int != 1|0<<8|1<<16 {
		t.Errorf("callback state = %#x, want 0x10001", r.Int)
	}
}

func TestGoNilDereferenceStillPanics(t *testing.T) {
	m := newTestImage(t, "nil.so")
	if _, err := Call(m.fn("null_read"), nil); err == nil {
		t.Fatal("null read did not fault")
	}
	// Another thread sits in a protected call meanwhile: the in-plugin
	// state is per thread, so faults here still go to the Go runtime.
	ctx, cancel := context.WithCancel(context.Background())
	spun := m.spinInside(t, ctx)
	defer func() {
		cancel()
		if err := <-spun; !errors.Is(err, context.Canceled) {
			t.Errorf("spinning call ended with %v, want context.Canceled", err)
		}
	}()
	for i := 0; i < 3; i++ {
		func() {
			defer func() {
				r := recover()
				re, ok := r.(runtime.Error)
				if !ok || !strings.Contains(re.Error(), "nil pointer dereference") {
					t.Errorf("recovered %v, want a nil dereference runtime.Error", r)
				}
			}()
			var p *int
			_ = *p
		}()
	}
}

// childEnv, set in the environment of the test binary, makes TestMain
// crash the process the way TestUnprotectedCrashesStillReachGo asks for
// instead of running the tests.
const childEnv = "RUNPLUG_SANDBOX_CHILD"

// TestMain runs the tests, or, in a child started with childEnv, crashes.
func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		crashChild(mode)
		fmt.Fprintf(os.Stderr, "child %s: still alive\n", mode)
		os.Exit(3)
	}
	code := m.Run()
	if n := LocksHeldAtRecovery(); n != 0 && code == 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d recovered faults or deadlines found a runplug lock held (locks.h)\n", n)
		code = 1
	}
	os.Exit(code)
}

// crashChild checks that a protected fault is trapped in this process,
// then crashes in one of the ways the Go runtime must still report:
// an unprotected fault in C, a Go nil dereference, abort().
func crashChild(mode string) {
	img, err := makeTestImage("child.so")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
	if _, err := Call(img.fn("null_read"), nil); err == nil {
		fmt.Fprintln(os.Stderr, "protected null read did not fault")
		os.Exit(4)
	}
	switch mode {
	case "unprotected":
		fixtureCall2(img.fn("null_read"), 0, 0)
	case "nil":
		var p *int
		println(*p)
	case "abort":
		fixtureCall2(fixtureDlsym("abort", ""), 0, 0)
	}
}

func TestUnprotectedCrashesStillReachGo(t *testing.T) {
	tests := []struct {
		mode string
		want []string
	}{
		{"unprotected", []string{"SIGSEGV: segmentation violation", "signal arrived during cgo execution", "goroutine "}},
		{"nil", []string{"panic: runtime error: invalid memory address or nil pointer dereference", "goroutine "}},
		{"abort", []string{"SIGABRT: abort", "goroutine "}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), childEnv+"="+tt.mode, "GOTRACEBACK=single")
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("child exit = %v, want exit status 2; output:\n%s", err, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("child output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestRegistrations(t *testing.T) {
	a := Register(0x10000, 0x20000, tombstone{"a"})
	b := Register(0x30000, 0x38000, tombstone{"b"})
	c := Register(0x20000, 0x30000, tombstone{"c"})
	empty := Register(0x50000, 0x50000, tombstone{"empty"})
	defer a.Unregister()
	defer b.Unregister()
	defer c.Unregister()
	tests := []struct {
		addr uintptr
		want string
	}{
		{0xffff, ""}, {0x10000, "a (unloaded)"}, {0x1ffff, "a (unloaded)"}, {0x20000, "c (unloaded)"},
		{0x2ffff, "c (unloaded)"}, {0x30000, "b (unloaded)"}, {0x37fff, "b (unloaded)"}, {0x38000, ""},
		{0x50000, ""},
	}
	check := func() {
		t.Helper()
		for _, tt := range tests {
			got := ""
			if r := lookup(tt.addr); r != nil {
				got = r.describer().Name()
			}
			if got != tt.want {
				t.Errorf("lookup(%#x) = %q, want %q", tt.addr, got, tt.want)
			}
		}
	}
	check()
	c.Replace(tombstone{"c2"})
	tests[3].want, tests[4].want = "c2 (unloaded)", "c2 (unloaded)"
	check()
	c.Unregister()
	c.Unregister()
	empty.Unregister()
	tests[3].want, tests[4].want = "", ""
	check()
}

func TestZeroAllocations(t *testing.T) {
	add := fixtureAdd()
	args := &Args{Int: [6]uint64{1, 2}}
	if n := testing.AllocsPerRun(1000, func() { Call(add, args) }); n != 0 {
		t.Errorf("Call allocates %v times per call", n)
	}
	ctx := context.Background()
	if n := testing.AllocsPerRun(1000, func() { CallContext(ctx, add, args) }); n != 0 {
		t.Errorf("CallContext(Background) allocates %v times per call", n)
	}
}

func TestSignalAndCodeNames(t *testing.T) {
	tests := []struct {
		sig  syscall.Signal
		code int32
		name string
		cn   string
	}{
		{syscall.SIGSEGV, 1, "SIGSEGV", "SEGV_MAPERR"},
		{syscall.SIGSEGV, 2, "SIGSEGV", "SEGV_ACCERR"},
		{syscall.SIGBUS, 1, "SIGBUS", "BUS_ADRALN"},
		{syscall.SIGFPE, 1, "SIGFPE", "FPE_INTDIV"},
		{syscall.SIGILL, 2, "SIGILL", "ILL_ILLOPN"},
		{syscall.SIGABRT, -6, "SIGABRT", "SI_TKILL"},
		{syscall.SIGSEGV, 0x80, "SIGSEGV", "SI_KERNEL"},
		{syscall.Signal(40), 77, "signal 40", "code 77"},
	}
	for _, tt := range tests {
		if got := SignalName(tt.sig); got != tt.name {
			t.Errorf("SignalName(%d) = %q, want %q", tt.sig, got, tt.name)
		}
		if got := CodeName(tt.sig, tt.code); got != tt.cn {
			t.Errorf("CodeName(%d, %d) = %q, want %q", tt.sig, tt.code, got, tt.cn)
		}
	}
}
