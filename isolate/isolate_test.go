//go:build linux && (amd64 || arm64) && cgo

package isolate_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
	"golang.org/x/sys/unix"
)

// newLoader returns a Loader that isolates its plugins, closed with the test.
func newLoader(t testing.TB, lo loader.Options, opts isolate.Options) (*loader.Loader, *isolate.Isolator) {
	t.Helper()
	needKernel(t)
	return newLoaderAnyKernel(t, lo, opts)
}

// newBoundaryLoader is newLoader for a test of the boundary itself (the
// protocol, host functions, callbacks and the relay, deadlines, the
// child's end) rather than of the confinement: under qemu-user, which has
// neither seccomp nor user namespaces, its children run without both
// (Policy.NoSeccomp and NoNamespaces), so that the arm64 job runs these
// tests against the arm64 child; on a native kernel it is newLoader.
func newBoundaryLoader(t testing.TB, lo loader.Options, opts isolate.Options) (*loader.Loader, *isolate.Isolator) {
	t.Helper()
	if testenv.Emulated() {
		opts.Policy.NoSeccomp, opts.Policy.NoNamespaces = true, true
	}
	return newLoaderAnyKernel(t, lo, opts)
}

func newLoaderAnyKernel(t testing.TB, lo loader.Options, opts isolate.Options) (*loader.Loader, *isolate.Isolator) {
	t.Helper()
	iso := isolate.New(opts)
	lo.Isolation = iso
	l := loader.New(lo)
	t.Cleanup(func() { l.Close(context.Background()) })
	return l, iso
}

// needKernel skips a test that starts isolated children under qemu-user,
// which has neither seccomp nor user namespaces: the isolated tier's
// run-time tests need a native kernel of the architecture.
func needKernel(t testing.TB) {
	t.Helper()
	testenv.NeedNative(t, "the isolated tier (seccomp filters, user namespaces)")
}

// bothWays runs f as a subtest with a Loader in process and with one that
// isolates its plugins: the same code must behave the same.
func bothWays(t *testing.T, f func(t *testing.T, l *loader.Loader)) {
	bothWaysWith(t, newLoader, f)
}

// boundaryBothWays is bothWays with newBoundaryLoader.
func boundaryBothWays(t *testing.T, f func(t *testing.T, l *loader.Loader)) {
	bothWaysWith(t, newBoundaryLoader, f)
}

func bothWaysWith(t *testing.T, newIsolated func(testing.TB, loader.Options, isolate.Options) (*loader.Loader, *isolate.Isolator), f func(t *testing.T, l *loader.Loader)) {
	for _, isolated := range []bool{false, true} {
		t.Run(fmt.Sprint("isolated=", isolated), func(t *testing.T) {
			var l *loader.Loader
			if isolated {
				l, _ = newIsolated(t, loader.Options{}, isolate.Options{})
			} else {
				l = loader.New(loader.Options{})
				t.Cleanup(func() { l.Close(context.Background()) })
			}
			f(t, l)
		})
	}
}

func load(t testing.TB, l *loader.Loader, name string) *loader.Plugin {
	t.Helper()
	p, err := l.Load(context.Background(), plugintest.Build(t, name))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return p
}

func fn(t testing.TB, p *loader.Plugin, name string) *loader.Func {
	t.Helper()
	f, err := p.Func(name)
	if err != nil {
		t.Fatalf("func %s: %v", name, err)
	}
	return f
}

func call(t testing.TB, p *loader.Plugin, name string, args ...uint64) (uint64, error) {
	t.Helper()
	return fn(t, p, name).Call(context.Background(), args...)
}

// TestFaults: every fault kind the in-process sandbox traps comes back
// from the child as the same *loader.FaultError (signal, code, what the
// address is, symbol, plugin), and the child serves the next call.
func TestFaults(t *testing.T) {
	l, _ := newLoader(t, loader.Options{KeepAfterFault: true}, isolate.Options{Policy: isolate.Policy{Allow: []string{"memfd_create"}}})
	p := load(t, l, "isolate_faults")
	base, err := call(t, p, "image_base")
	if err != nil {
		t.Fatal(err)
	}
	const (
		segvMaperr = 1
		segvAccerr = 2
		siKernel   = 0x80
		siTkill    = -6
	)
	tests := []struct {
		name   string
		fn     string
		arg    uint64
		sig    syscall.Signal
		code   int32
		where  string
		symbol string // prefix
	}{
		{"null read", "null_read", 0, syscall.SIGSEGV, segvMaperr, "not mapped", "null_read+"},
		{"builtin trap", "trap", 0, syscall.SIGILL, 2, "(R-X) of isolate_faults.so", "trap+"},
		{"divide by zero", "div_zero", 7, syscall.SIGFPE, 1, "(R-X) of isolate_faults.so", "div_zero+"},
		{"write own text", "write_text", 0, syscall.SIGSEGV, segvAccerr, "(R-X) of isolate_faults.so", "write_text+"},
		{"write rodata", "write_rodata", 0, syscall.SIGSEGV, segvAccerr, "", "write_rodata+"},
		{"jump into data", "jump_data", 0, syscall.SIGSEGV, segvAccerr, "(RW-) of isolate_faults.so", ""},
		{"read past image end", "read_past_end", 0, syscall.SIGSEGV, segvAccerr, "guard page after isolate_faults.so", "read_past_end+"},
		{"read guard before", "read_rdi", base - 8, syscall.SIGSEGV, segvAccerr, "guard page before isolate_faults.so", "read_rdi+"},
		{"non-canonical address", "read_rdi", 1 << 63, syscall.SIGSEGV, siKernel, "general protection fault (no address)", "read_rdi+"},
		{"int3", "breakpoint", 0, syscall.SIGTRAP, siKernel, "breakpoint", "breakpoint+"},
		{"abort", "do_abort", 0, syscall.SIGABRT, siTkill, "", ""},
		{"unbounded recursion", "recurse", 0, syscall.SIGSEGV, -1, "stack overflow", "recurse+"},
		{"read past end of file (SIGBUS)", "bus", 0, syscall.SIGBUS, 2, "mapped, not a plugin", "bus+"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := call(t, p, tt.fn, tt.arg)
			var fe *loader.FaultError
			if !errors.As(err, &fe) {
				t.Fatalf("error = %v, want a *loader.FaultError", err)
			}
			if fe.Signal != tt.sig {
				t.Errorf("Signal = %v, want %v", fe.Signal, tt.sig)
			}
			if tt.code >= 0 && fe.Code != tt.code {
				t.Errorf("Code = %d, want %d", fe.Code, tt.code)
			}
			if tt.where != "" && fe.Where != tt.where && !(strings.HasPrefix(tt.where, "(") && strings.HasSuffix(fe.Where, tt.where)) {
				t.Errorf("Where = %q, want %q", fe.Where, tt.where)
			}
			if tt.name == "write rodata" && !strings.Contains(fe.Where, "of isolate_faults.so") {
				t.Errorf("Where = %q, want a segment of isolate_faults.so", fe.Where)
			}
			if !strings.HasPrefix(fe.Symbol, tt.symbol) {
				t.Errorf("Symbol = %q, want %q...", fe.Symbol, tt.symbol)
			}
			if tt.sig != syscall.SIGABRT && fe.Plugin != "isolate_faults.so" {
				t.Errorf("Plugin = %q, want isolate_faults.so", fe.Plugin)
			}
			if !strings.HasPrefix(err.Error(), "loader: call "+tt.fn+" in isolate_faults.so: SIG") {
				t.Errorf("message %q: want the in-process form", err)
			}
			if r, err := call(t, p, "add", 2, 3); err != nil || r != 5 {
				t.Fatalf("healthy call after the fault = %d, %v", r, err)
			}
		})
	}
}

// TestQuarantineAndRestart: by default a fault quarantines the plugin, as
// in process; Restart gives a fresh process and the same Funcs work.
func TestQuarantineAndRestart(t *testing.T) {
	l, _ := newBoundaryLoader(t, loader.Options{}, isolate.Options{})
	p := load(t, l, "isolate_faults")
	add := fn(t, p, "add")
	pid := pidOf(t, p)
	if _, err := call(t, p, "null_read"); !errors.As(err, new(*loader.FaultError)) {
		t.Fatalf("null_read: %v", err)
	}
	if _, err := add.Call(context.Background(), 1, 2); !errors.Is(err, loader.ErrQuarantined) {
		t.Fatalf("after a fault: %v, want ErrQuarantined", err)
	}
	if err := p.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r, err := add.Call(context.Background(), 2, 3); err != nil || r != 5 {
		t.Fatalf("after restart: %d, %v", r, err)
	}
	if np := pidOf(t, p); np == pid {
		t.Errorf("same pid %d after restart", np)
	}
	assertGone(t, pid)
}

// TestAutoRestart: with a restart policy the next call after a failure
// restarts the plugin, up to Max times.
func TestAutoRestart(t *testing.T) {
	l, _ := newLoader(t, loader.Options{}, isolate.Options{Restart: isolate.RestartPolicy{Max: 2}})
	p := load(t, l, "isolate_faults")
	add := fn(t, p, "add")
	for i := 0; i < 2; i++ {
		if _, err := call(t, p, "do_exit", 3); !errors.Is(err, isolate.ErrExited) {
			t.Fatalf("exit: %v", err)
		}
		if r, err := add.Call(context.Background(), 2, 3); err != nil || r != 5 {
			t.Fatalf("restart %d: %d, %v", i+1, r, err)
		}
	}
	if _, err := call(t, p, "do_exit", 3); !errors.Is(err, isolate.ErrExited) {
		t.Fatalf("exit: %v", err)
	}
	if _, err := add.Call(context.Background(), 2, 3); !errors.Is(err, loader.ErrQuarantined) {
		t.Fatalf("past Max: %v, want ErrQuarantined", err)
	}
}

// TestProcessEnds: exit, a kill and a deadline end the call in flight with
// a typed error.
func TestProcessEnds(t *testing.T) {
	l, _ := newBoundaryLoader(t, loader.Options{}, isolate.Options{Restart: isolate.RestartPolicy{Max: 100}})
	p := load(t, l, "isolate_faults")
	exit, kill := fn(t, p, "do_exit"), fn(t, p, "kill_self")

	_, err := exit.Call(context.Background(), 3)
	var ee *isolate.ExitError
	if !errors.As(err, &ee) || ee.Status != 3 || ee.Signal != 0 {
		t.Fatalf("exit(3): %v", err)
	}
	t.Log(err)

	_, err = kill.Call(context.Background())
	if !errors.As(err, &ee) || ee.Signal != syscall.SIGKILL {
		t.Fatalf("kill(getpid(), SIGKILL): %v", err)
	}
	t.Log(err)
}

// TestDeadlineAndKill: a call that never returns is stopped by its
// context (the child is killed) and by a kill from outside; the plugin
// tells the host it is inside through a host function (no sleeps).
func TestDeadlineAndKill(t *testing.T) {
	inside := make(chan struct{}, 1)
	l, _ := newBoundaryLoader(t, loader.Options{}, isolate.Options{Restart: isolate.RestartPolicy{Max: 100}})
	registerHost(t, l, inside, false)
	p := load(t, l, "isolate_host")
	spin := fn(t, p, "spin")

	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-inside; cancel() }()
	_, err := spin.Call(ctx)
	if !errors.Is(err, loader.ErrDeadline) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v, want loader.ErrDeadline and context.Canceled", err)
	}
	t.Log(err)

	done := make(chan error, 1)
	go func() { _, err := spin.Call(context.Background()); done <- err }()
	<-inside
	pid := pidOf(t, p)
	if err := unix.Kill(pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = <-done
	var ee *isolate.ExitError
	if !errors.As(err, &ee) || ee.Signal != syscall.SIGKILL || ee.Pid != pid {
		t.Fatalf("killed child: %v", err)
	}
	t.Log(err)
}

func registerHost(t testing.TB, l *loader.Loader, inside chan struct{}, reenter bool) {
	t.Helper()
	var add func(int64, int64) int64 = func(a, b int64) int64 { return a + b }
	reg := map[string]any{
		"host_add":    add,
		"host_strlen": func(s string) int32 { return int32(len(s)) },
		"host_inside": func() int64 {
			select {
			case inside <- struct{}{}:
			default:
			}
			return 0
		},
		"host_panic": func(x int64) int64 { panic(fmt.Sprintf("host panic %d", x)) },
	}
	if !reenter {
		reg["host_reenter"] = func(x int64) int64 { return x }
	}
	for name, f := range reg {
		if _, err := l.RegisterHostFunc(name, f); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHostFunctions: host functions across the boundary, a string from
// the plugin, a panic, and a host function that calls the plugin again.
func TestHostFunctions(t *testing.T) {
	l, _ := newBoundaryLoader(t, loader.Options{}, isolate.Options{Restart: isolate.RestartPolicy{Max: 10}})
	registerHost(t, l, make(chan struct{}, 1), true)
	var p *loader.Plugin
	if _, err := l.RegisterHostFunc("host_reenter", func(x int64) int64 {
		r, err := fn(t, p, "leaf").Call(context.Background(), uint64(x))
		if err != nil {
			panic(err)
		}
		return int64(r)
	}); err != nil {
		t.Fatal(err)
	}
	p = load(t, l, "isolate_host")
	if r, err := call(t, p, "call_add", 2, 3); err != nil || r != 6 {
		t.Fatalf("call_add = %d, %v", r, err)
	}
	if r, err := call(t, p, "call_reenter", 5); err != nil || r != 16 {
		t.Fatalf("call_reenter = %d, %v", r, err)
	}
	strlen, err := loader.Bind1[string, int32](fnOf(t, p, "call_strlen"))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := strlen(context.Background(), "hello, host"); err != nil || n != 11 {
		t.Fatalf("call_strlen = %d, %v", n, err)
	}
	_, err = call(t, p, "call_panic", 7)
	var hp *loader.HostPanicError
	if !errors.As(err, &hp) || hp.Value != "host panic 7" || hp.Func != "host_panic" {
		t.Fatalf("call_panic: %v", err)
	}
	t.Log(err)
}

// TestBuffersAndStrings: []byte and string arguments of bindings work the
// same isolated as in process.
func TestBuffersAndStrings(t *testing.T) {
	boundaryBothWays(t, func(t *testing.T, l *loader.Loader) {
		p := load(t, l, "isolate_faults")
		buf := bytes.Repeat([]byte{1, 2, 3, 4}, 1024)
		invert, err := loader.Bind2[[]byte, int64, int64](fn(t, p, "invert"))
		if err != nil {
			t.Fatal(err)
		}
		r, err := invert(context.Background(), buf, int64(len(buf)))
		if err != nil || r != 10*1024 {
			t.Fatalf("invert = %d, %v", r, err)
		}
		if buf[0] != ^byte(1) || buf[4095] != ^byte(4) {
			t.Fatalf("buffer not written back: % x", buf[:4])
		}
		strlen, err := loader.Bind1[string, int64](fnOf(t, p, "str_len"))
		if err != nil {
			t.Fatal(err)
		}
		if n, err := strlen(context.Background(), "across"); err != nil || n != 6 {
			t.Fatalf("str_len = %d, %v", n, err)
		}
		if _, err := p.Func("no_such_symbol"); !errors.Is(err, loader.ErrSymbolNotFound) {
			t.Fatalf("missing symbol: %v", err)
		}
		if _, err := p.Func("rodata"); !errors.Is(err, loader.ErrSymbolNotFound) {
			t.Fatalf("data symbol as Func: %v", err)
		}
		if s, err := p.Lookup("rodata"); err != nil || s.Func || s.Size != 32 {
			t.Fatalf("Lookup(rodata) = %+v, %v", s, err)
		}
	})
}

// TestForbiddenSyscalls: each forbidden system call of the default
// policy stops the plugin; the error names it.
func TestForbiddenSyscalls(t *testing.T) {
	l, _ := newLoader(t, loader.Options{}, isolate.Options{})
	p := load(t, l, "isolate_faults")
	tests := []struct {
		fn   string
		args []uint64
		want string
	}{
		{"do_exec", nil, "execve"},
		{"do_socket", nil, "socket"},
		{"do_fork", nil, "clone"},
		{"open_path", nil, "openat"},
		{"raw_syscall", []uint64{unix.SYS_PTRACE, unix.PTRACE_TRACEME}, "ptrace"},
		{"raw_syscall", []uint64{unix.SYS_KILL, 1, 0}, "kill"},
		{"raw_syscall", []uint64{unix.SYS_UNSHARE, unix.CLONE_NEWNS}, "unshare"},
		{"raw_syscall", []uint64{unix.SYS_MOUNT}, "mount"},
		{"raw_syscall", []uint64{unix.SYS_SETUID, 0}, "setuid"},
		{"raw_syscall", []uint64{unix.SYS_CHDIR}, "chdir"},
		{"raw_syscall", []uint64{unix.SYS_BPF}, "bpf"},
		{"raw_syscall", []uint64{unix.SYS_MEMFD_CREATE}, "memfd_create"},
		{"raw_syscall", []uint64{unix.SYS_PRCTL, unix.PR_SET_DUMPABLE, 1}, "prctl"},
		{"raw_syscall", []uint64{unix.SYS_SECCOMP}, "seccomp"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if tt.want == "openat" && raceBuild {
				t.Skip("opens are allowed under the race detector (isolate/race.go)")
			}
			f := fn(t, p, tt.fn)
			var err error
			if tt.fn == "open_path" {
				_, err = callBufs(context.Background(), p, tt.fn, [6]uint64{}, map[int][]byte{0: []byte("/etc/hostname\x00")})
			} else {
				_, err = f.Call(context.Background(), tt.args...)
			}
			var se *isolate.SyscallError
			if !errors.As(err, &se) || se.Name != tt.want || !errors.Is(err, isolate.ErrForbiddenSyscall) {
				t.Fatalf("error = %v, want a *SyscallError naming %s", err, tt.want)
			}
			if err := p.Restart(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestPolicyExtension: the host may allow more (here read-only opens
// after the load).
func TestPolicyExtension(t *testing.T) {
	l, _ := newLoader(t, loader.Options{}, isolate.Options{Policy: isolate.Policy{AllowOpen: true}})
	p := load(t, l, "isolate_faults")
	r, err := callBufs(context.Background(), p, "open_path", [6]uint64{}, map[int][]byte{0: []byte("/proc/self/status\x00")})
	if err != nil || int64(r) < 0 {
		t.Fatalf("open with AllowOpen = %d, %v", int64(r), err)
	}
	bad := loader.New(loader.Options{Isolation: isolate.New(isolate.Options{Policy: isolate.Policy{Allow: []string{"no_such_call"}}})})
	defer bad.Close(context.Background())
	if _, err := bad.Load(context.Background(), plugintest.Build(t, "isolate_faults")); err == nil || !strings.Contains(err.Error(), "no_such_call") {
		t.Fatalf("unknown system call name: load error %v, want one naming it", err)
	}
}

// TestConfinement: the child's process group, no_new_privs, seccomp mode,
// limits, descriptors and namespaces.
func TestConfinement(t *testing.T) {
	l, iso := newLoader(t, loader.Options{}, isolate.Options{Policy: isolate.Policy{Memory: 4 << 30}})
	p := load(t, l, "isolate_faults")
	pid := pidOf(t, p)
	if pg, err := unix.Getpgid(pid); err != nil || pg != pid {
		t.Errorf("process group = %d, %v; want its own (%d)", pg, err, pid)
	}
	pid = pluginProc(t, pid) // the process group's leader waits for it (a PID namespace)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"NoNewPrivs:\t1", "Seccomp:\t2"} {
		if !bytes.Contains(status, []byte(want)) {
			t.Errorf("/proc/%d/status lacks %q", pid, want)
		}
	}
	limits, _ := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if !bytes.Contains(limits, []byte("4294967296")) {
		t.Errorf("address space limit not set:\n%s", limits)
	}
	// Descriptors: nothing of the host's but /dev/null; the channel's
	// memfd is closed once mapped.
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		if target != "/dev/null" && !strings.HasPrefix(target, "anon_inode:") && !strings.HasPrefix(target, "pipe:") {
			t.Errorf("child fd %s -> %s", e.Name(), target)
		}
	}
	// A 16 GiB allocation fails under the 4 GiB limit.
	if r, err := call(t, p, "alloc", 16<<30); err != nil || r != 0 {
		t.Errorf("alloc(16 GiB) = %d, %v; want 0 (refused)", r, err)
	}
	rep := iso.Report()
	t.Logf("report: %+v", rep)
	if len(rep.Namespaces) > 0 {
		for _, ns := range []string{"net", "mnt", "user"} {
			if ns == "user" && os.Geteuid() == 0 {
				continue // a uid of its own instead (TestChildCredentials)
			}
			mine, _ := os.Readlink("/proc/self/ns/" + ns)
			its, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
			if mine == its {
				t.Errorf("child shares the %s namespace (%s)", ns, its)
			}
		}
	} else if len(rep.Missing) == 0 {
		t.Error("no namespaces and no reason")
	}
}

// TestCloseLeavesNoChild: Close reaps the child.
func TestCloseLeavesNoChild(t *testing.T) {
	l, _ := newLoader(t, loader.Options{}, isolate.Options{})
	p := load(t, l, "isolate_faults")
	pid := pidOf(t, p)
	add := fn(t, p, "add")
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertGone(t, pid)
	if _, err := add.Call(context.Background(), 1, 2); !errors.Is(err, loader.ErrClosed) {
		t.Fatalf("call after Close: %v", err)
	}
	p2 := load(t, l, "isolate_faults")
	pid2 := pidOf(t, p2)
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertGone(t, pid2)
}

// TestLoadErrors: a load that fails in the child gives the loader's error.
func TestLoadErrors(t *testing.T) {
	l, _ := newLoader(t, loader.Options{}, isolate.Options{})
	_, err := l.Load(context.Background(), "/nonexistent/plugin.so")
	if !errors.Is(err, loader.ErrNotFound) {
		t.Fatalf("missing file: %v, want ErrNotFound", err)
	}
	t.Log(err)
	img, err := os.ReadFile(plugintest.Build(t, "isolate_faults"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := l.LoadBytes(context.Background(), "mem.so", img)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := call(t, p, "add", 20, 22); err != nil || r != 42 {
		t.Fatalf("LoadBytes: add = %d, %v", r, err)
	}
}

func pidOf(t testing.TB, p *loader.Plugin) int {
	t.Helper()
	pid := isolate.Pid(p)
	if pid <= 0 {
		t.Fatalf("no child pid for %s", p.Name())
	}
	return pid
}

// childTree returns the processes of the child whose pid the host knows:
// that one alone, or, in a PID namespace of its own (internal/childrt
// pidns.c), it and its two children, the namespace's init and the
// plugin's process, the last always the plugin's.
func childTree(t testing.TB, pid int) []int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		t.Fatalf("children of %d: %v", pid, err)
	}
	kids := strings.Fields(string(b))
	if len(kids) == 0 {
		return []int{pid}
	}
	tree := []int{pid, 0, 0}
	for _, k := range kids {
		kid, err := strconv.Atoi(k)
		if err != nil {
			t.Fatal(err)
		}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", kid))
		if err != nil {
			t.Fatal(err)
		}
		// NSpid: its pid in each namespace, the innermost last.
		for _, line := range strings.Split(string(status), "\n") {
			if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
				f := strings.Fields(rest)
				switch f[len(f)-1] {
				case "1":
					tree[1] = kid
				case "2":
					tree[2] = kid
				}
			}
		}
	}
	if len(kids) != 2 || tree[1] == 0 || tree[2] == 0 {
		t.Fatalf("child %d has children %v, want the PID namespace's init (1) and the plugin's process (2)", pid, kids)
	}
	return tree
}

// pluginProc returns the host's pid of the plugin's process of the child
// whose pid the host knows (childTree).
func pluginProc(t testing.TB, pid int) int {
	t.Helper()
	tree := childTree(t, pid)
	return tree[len(tree)-1]
}

// assertGone checks that pid is not a process (not even a zombie).
func assertGone(t testing.TB, pid int) {
	t.Helper()
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		t.Errorf("child %d still exists: %s", pid, st)
	}
}

// TestConcurrentCalls: 8 goroutines share a pool of 8 channels (8 child
// threads, each making its first glibc allocation after the filter is
// in: see the GLIBC_TUNABLES note in host.go).
func TestConcurrentCalls(t *testing.T) {
	l, _ := newLoader(t, loader.Options{}, isolate.Options{Channels: 8})
	p := load(t, l, "isolate_faults")
	add := fn(t, p, "add")
	alloc := fn(t, p, "alloc")
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 500; i++ {
				r, err := add.Call(context.Background(), uint64(g), uint64(i))
				if err == nil && r != uint64(g+i) {
					err = fmt.Errorf("add(%d, %d) = %d", g, i, r)
				}
				if err == nil && i%100 == 0 {
					_, err = alloc.Call(context.Background(), 1<<20)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestCPULimit: a plugin that spins past Policy.CPUTime is killed by the
// kernel (RLIMIT_CPU) and the error says so. It burns one CPU second.
func TestCPULimit(t *testing.T) {
	if testing.Short() {
		t.Skip("burns a CPU second")
	}
	l, _ := newLoader(t, loader.Options{}, isolate.Options{Policy: isolate.Policy{CPUTime: time.Second}})
	p := load(t, l, "isolate_faults")
	_, err := call(t, p, "spin")
	var ee *isolate.ExitError
	if !errors.As(err, &ee) || ee.Signal != syscall.SIGKILL || !strings.Contains(ee.Reason, "RLIMIT_CPU") {
		t.Fatalf("spin under a 1 s CPU limit: %v", err)
	}
	t.Log(err)
}

// TestCPULimitDefault: a child gets an hour of CPU time unless its policy
// says otherwise (RLIMIT_CPU on the plugin's process), and none when the
// policy disables the limit.
func TestCPULimitDefault(t *testing.T) {
	for _, tt := range []struct {
		cpu  time.Duration
		want string // /proc/PID/limits' soft and hard figures
	}{
		{0, "3600 3600"},
		{90 * time.Second, "90 90"},
		{1500 * time.Millisecond, "2 2"},
		{-1, "unlimited unlimited"},
	} {
		t.Run(tt.cpu.String(), func(t *testing.T) {
			l, _ := newLoader(t, loader.Options{}, isolate.Options{Policy: isolate.Policy{CPUTime: tt.cpu}})
			pid := pluginProc(t, pidOf(t, load(t, l, "isolate_faults")))
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(string(b), "\n") {
				if rest, ok := strings.CutPrefix(line, "Max cpu time"); ok {
					if got := strings.Join(strings.Fields(rest)[:2], " "); got != tt.want {
						t.Errorf("CPUTime %v: limit %q, want %q", tt.cpu, got, tt.want)
					}
					return
				}
			}
			t.Fatalf("no cpu time in %s", b)
		})
	}
}

// TestStaticTLS: an object with initial-exec TLS loads in the child under
// the default policy (its room comes from glibc through a memfd stand-in,
// which the load policy allows) and its thread-local state works there.
func TestStaticTLS(t *testing.T) {
	l, _ := newLoader(t, loader.Options{}, isolate.Options{})
	p := load(t, l, "tls_ie")
	for _, tt := range []struct {
		fn   string
		want uint64
	}{
		{"tls_ie_pointer_ok", 1},
		{"tls_ie_models_agree", 1},
	} {
		if got, err := call(t, p, tt.fn); err != nil || got != tt.want {
			t.Errorf("%s() = %d, %v; want %d", tt.fn, got, err, tt.want)
		}
	}
	var want [8]byte
	copy(want[:], "static!")
	if got, err := call(t, p, "tls_ie_greeting"); err != nil || got != binary.LittleEndian.Uint64(want[:]) {
		t.Errorf("tls_ie_greeting() = %#x, %v; want %q", got, err, want)
	}
}

// TestCloseReportsDestructorFault: a destructor that faults makes Close
// fail with the fault, in process and isolated alike, the message naming
// the close once (the child's error crosses without the context the
// host's loader adds again), and the child is gone.
func TestCloseReportsDestructorFault(t *testing.T) {
	needKernel(t)
	bothWays(t, func(t *testing.T, l *loader.Loader) {
		p := load(t, l, "isolate_faults")
		pid := isolate.Pid(p) // 0 in process
		if _, err := fn(t, p, "arm_dtor_fault").Call(context.Background()); err != nil {
			t.Fatal(err)
		}
		err := p.Close(context.Background())
		var fe *loader.FaultError
		if !errors.As(err, &fe) || fe.Signal != syscall.SIGSEGV {
			t.Fatalf("Close: %v, want the destructor's fault", err)
		}
		if n := strings.Count(err.Error(), "loader: close"); n != 1 {
			t.Errorf("Close: %q names the close %d times, want once", err, n)
		}
		if pid != 0 {
			assertGone(t, pid)
		}
	})
}

// TestHostilePluginNulRewrite: a plugin thread rewrites the channel's
// host-call area ('A' over the strings and their NULs) while the plugin
// calls a host function with a string, 500 times: the host function
// always sees the 11 bytes the child copied, never more of the channel or
// of the host's memory after it (hostile_shm.c).
func TestHostilePluginNulRewrite(t *testing.T) {
	l, _ := newLoader(t, loader.Options{}, isolate.Options{})
	var longest atomic.Int64
	if _, err := l.RegisterHostFunc("host_strlen", func(s string) int32 {
		if int64(len(s)) > longest.Load() {
			longest.Store(int64(len(s)))
		}
		return int32(len(s))
	}); err != nil {
		t.Fatal(err)
	}
	p := load(t, l, "hostile_shm")
	r, err := callBufs(context.Background(), p, "nul_attack", [6]uint64{0, 500}, map[int][]byte{0: make([]byte, 16)})
	if err != nil || r != 11 || longest.Load() != 11 {
		t.Fatalf("nul_attack = %d, %v (longest string the host saw %d); want 11", int64(r), err, longest.Load())
	}
}
