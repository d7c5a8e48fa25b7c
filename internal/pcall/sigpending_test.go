//go:build linux && amd64 && cgo

package pcall

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/testenv"
)

// sigpendingChildEnv makes TestDeadlineSigpendingExhausted do its work:
// in a child of its own, since it lowers RLIMIT_SIGPENDING and fills the
// signal queue.
const sigpendingChildEnv = "RUNPLUG_SANDBOX_SIGPENDING_CHILD"

// fillSignal is the real-time signal the child queues, blocked, to use up
// its signal queue (neither the Go runtime's nor InterruptSignal).
const fillSignal = 40

// sigqueue sends sig to thread tid of this process with
// rt_tgsigqueueinfo (SI_QUEUE), as rp_interrupt does.
func sigqueue(tid, sig int) error {
	var si [128]byte
	*(*int32)(unsafe.Pointer(&si[0])) = int32(sig)
	*(*int32)(unsafe.Pointer(&si[8])) = -1 // SI_QUEUE
	*(*int32)(unsafe.Pointer(&si[16])) = int32(os.Getpid())
	*(*uint32)(unsafe.Pointer(&si[20])) = uint32(os.Getuid())
	_, _, e := unix.Syscall6(unix.SYS_RT_TGSIGQUEUEINFO, uintptr(os.Getpid()), uintptr(tid), uintptr(sig), uintptr(unsafe.Pointer(&si[0])), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// A deadline is never lost (issue 19, must-hold 2): with the signal queue
// used up (RLIMIT_SIGPENDING is per user: any process of the user can use
// it up), rt_tgsigqueueinfo fails with EAGAIN, and the deadline comes by
// the thread's own timer instead.
func TestDeadlineSigpendingExhausted(t *testing.T) {
	if os.Getenv(sigpendingChildEnv) == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestDeadlineSigpendingExhausted$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), sigpendingChildEnv+"=1")
		// In a user namespace of its own: the kernel counts pending
		// signals per user and namespace, so the child's count is its
		// own, not shared with whatever else runs as this user here.
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		}
		out, err := cmd.CombinedOutput()
		var pe *os.PathError
		if errors.As(err, &pe) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) {
			testenv.Skipf(t, "no user namespace for the child: %v", err)
		}
		if ctx.Err() != nil {
			t.Fatalf("the child's deadline was lost: it ran until killed\n%s", out)
		}
		if err != nil || !strings.Contains(string(out), "deadline by the thread's timer") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		t.Logf("child:\n%s", out)
		return
	}
	m := newTestImage(t, "spin.so")
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// The thread's first deadline call makes its timer, while the queue
	// has room.
	warm, cancelWarm := context.WithCancel(context.Background())
	if r, err := CallContext(warm, m.fn("add"), &Args{Int: [6]uint64{1, 2}}); err != nil || r.Int != 3 {
		t.Fatalf("warm-up call: %d, %v", r.Int, err)
	}
	cancelWarm()

	// Another thread blocks fillSignal; queue it there until the kernel
	// refuses.
	tids := make(chan int)
	release := make(chan struct{})
	defer close(release)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var set unix.Sigset_t
		set.Val[0] = 1 << (fillSignal - 1)
		if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil); err != nil {
			t.Errorf("block signal %d: %v", fillSignal, err)
		}
		tids <- unix.Gettid()
		<-release
		// The process exits with the signals pending and blocked.
	}()
	tid := <-tids
	if err := unix.Setrlimit(unix.RLIMIT_SIGPENDING, &unix.Rlimit{Cur: 16, Max: 16}); err != nil {
		t.Fatalf("setrlimit RLIMIT_SIGPENDING: %v", err)
	}
	queued := 0
	for ; queued < 1<<16; queued++ {
		if err := sigqueue(tid, fillSignal); err != nil {
			if !errors.Is(err, unix.EAGAIN) {
				t.Fatalf("queue signal %d: %v", fillSignal, err)
			}
			break
		}
	}
	if err := sigqueue(unix.Gettid(), int(InterruptSignal)); !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("after %d queued signals, a deadline signal to this thread: %v, want EAGAIN", queued, err)
	}
	_, timerBefore, _ := interruptStats()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := CallContext(ctx, m.fn("spin"), nil)
	if !errors.Is(err, ErrDeadline) {
		t.Fatalf("spin with the queue full: %v, want ErrDeadline", err)
	}
	_, timerAfter, _ := interruptStats()
	if timerAfter != timerBefore+1 {
		q, tm, r := interruptStats()
		t.Fatalf("interruptStats timer went from %d to %d, want one more (%d %d %d)", timerBefore, timerAfter, q, tm, r)
	}
	t.Logf("queue full after %d signals; %v: deadline by the thread's timer", queued, err)
}
