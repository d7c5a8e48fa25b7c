//go:build linux && amd64 && cgo

// The examples run isolated children: linux/amd64 only, since the arm64
// job runs under qemu-user, which has no seccomp or user namespaces (and
// an example cannot skip).

package isolate_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/runplug/runplug/abi"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// Example loads the system's libz in a confined child process and calls
// crc32 with a buffer that crosses through shared memory.
func Example() {
	ctx := context.Background()
	const libz = "/lib/x86_64-linux-gnu/libz.so.1" // .ci/run installs zlib1g
	l := loader.New(loader.Options{Isolation: isolate.New(isolate.Options{})})
	defer l.Close(ctx)
	p, err := l.Load(ctx, libz)
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := p.Func("crc32")
	if err != nil {
		fmt.Println(err)
		return
	}
	// uLong crc32(uLong crc, const Bytef *buf, uInt len): a []byte is
	// copied into the memory the child shares, and back after the call.
	crc32, err := loader.Bind3[uint64, []byte, uint32, uint64](f)
	if err != nil {
		fmt.Println(err)
		return
	}
	data := []byte("hello")
	r, err := crc32(ctx, 0, data, uint32(len(data)))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r)
	// Output: 907060870
}

// Example_generalCall calls libc's snprintf in a confined child: a
// variadic call through a run-time signature, whose buffer (a Go []byte)
// and strings are copied into the memory the child shares, and the
// buffer copied back.
func Example_generalCall() {
	ctx := context.Background()
	l := loader.New(loader.Options{Isolation: isolate.New(isolate.Options{})})
	defer l.Close(ctx)
	libc, err := l.Load(ctx, "libc.so.6")
	if err != nil {
		fmt.Println(err)
		return
	}
	// int snprintf(char *buf, size_t n, const char *format, ...), called
	// with an int, a double and a string.
	sig, err := loader.NewVariadicSignature(abi.Int32, 3,
		abi.Pointer, abi.Uint64, abi.Pointer, abi.Int32, abi.Float64, abi.Pointer)
	if err != nil {
		fmt.Println(err)
		return
	}
	snprintf, err := libc.FuncSig("snprintf", sig)
	if err != nil {
		fmt.Println(err)
		return
	}
	buf := make([]byte, 32)
	var n int32
	if err := snprintf.CallSig(context.Background(), &n, buf, len(buf), "%d %.2f %s", int32(42), 3.14159, "across"); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(n, string(buf[:n]))
	// Output: 14 42 3.14 across
}

// Example_qsort sorts an array in a confined child with libc's qsort and
// a Go comparator: the array is the child's memory (from its malloc), and
// the comparator reads the elements it is pointed to with
// Plugin.ReadMemory, as the same code would in process.
func Example_qsort() {
	ctx := context.Background()
	l := loader.New(loader.Options{Isolation: isolate.New(isolate.Options{})})
	defer l.Close(ctx)
	libc, err := l.Load(ctx, "libc.so.6")
	if err != nil {
		fmt.Println(err)
		return
	}
	malloc, _ := libc.Func("malloc")
	free, _ := libc.Func("free")
	qsort, err := libc.Func("qsort")
	if err != nil {
		fmt.Println(err)
		return
	}
	values := []int64{40, 10, 50, 30, 20}
	base, err := malloc.Call(context.Background(), uint64(8*len(values)))
	if err != nil || base == 0 {
		fmt.Println("malloc:", err)
		return
	}
	defer free.Call(context.Background(), base)
	buf := make([]byte, 8*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint64(buf[8*i:], uint64(v))
	}
	if err := libc.WriteMemory(uintptr(base), buf); err != nil {
		fmt.Println(err)
		return
	}
	// int cmp(const void *a, const void *b): a and b point into the child.
	cmp, err := loader.NewCallback(func(a, b uintptr) int32 {
		var x, y [8]byte
		if err := libc.ReadMemory(a, x[:]); err != nil {
			panic(err)
		}
		if err := libc.ReadMemory(b, y[:]); err != nil {
			panic(err)
		}
		u, v := int64(binary.LittleEndian.Uint64(x[:])), int64(binary.LittleEndian.Uint64(y[:]))
		return int32(min(max(u-v, -1), 1))
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cmp.Release()
	// qsort(base, n, 8, cmp): the Callback's Ptr becomes an entry in the
	// child that calls cmp in the host.
	if _, err := qsort.Call(context.Background(), base, uint64(len(values)), 8, uint64(cmp.Ptr())); err != nil {
		fmt.Println(err)
		return
	}
	if err := libc.ReadMemory(uintptr(base), buf); err != nil {
		fmt.Println(err)
		return
	}
	for i := range values {
		fmt.Print(int64(binary.LittleEndian.Uint64(buf[8*i:])), " ")
	}
	fmt.Println()
	// Output: 10 20 30 40 50
}

// Example_output captures what a plugin prints in its child process:
// libc's puts writes to the child's standard output, a pipe that the host
// copies to Options.Stdout (the host's own os.Stdout when nil). C stdio
// buffers it in the child; closing the Loader flushes it and waits for it.
func Example_output() {
	ctx := context.Background()
	var out bytes.Buffer
	l := loader.New(loader.Options{Isolation: isolate.New(isolate.Options{Stdout: &out})})
	libc, err := l.Load(ctx, "libc.so.6")
	if err != nil {
		fmt.Println(err)
		return
	}
	sig, err := loader.NewSignature(abi.Int32, abi.Pointer) // int puts(const char *)
	if err != nil {
		fmt.Println(err)
		return
	}
	puts, err := libc.FuncSig("puts", sig)
	if err != nil {
		fmt.Println(err)
		return
	}
	var n int32
	if err := puts.CallSig(context.Background(), &n, "hello from the child"); err != nil {
		fmt.Println(err)
		return
	}
	if err := l.Close(ctx); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(out.String())
	// Output: hello from the child
}

// Example_forbiddenSyscall shows what a host sees when an isolated plugin
// breaks a rule: libc's kill aimed at the host (here, this process) stops
// the child at the system call, and the error names it; the host carries
// on, and the plugin is quarantined until Restart.
func Example_forbiddenSyscall() {
	ctx := context.Background()
	iso := isolate.New(isolate.Options{Policy: isolate.Policy{Threads: 64, Memory: 4 << 30}})
	l := loader.New(loader.Options{Isolation: iso})
	defer l.Close(ctx)
	libc, err := l.Load(ctx, "libc.so.6")
	if err != nil {
		fmt.Println(err)
		return
	}
	kill, err := libc.Func("kill")
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = kill.Call(context.Background(), uint64(os.Getpid()), uint64(syscall.SIGKILL))
	var se *isolate.SyscallError
	if errors.As(err, &se) {
		fmt.Println(se.Arch, se.Name, errors.Is(err, isolate.ErrForbiddenSyscall))
	}
	// Output: x86_64 kill true
}
