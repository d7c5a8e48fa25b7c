//go:build linux && amd64 && cgo

package pcall

import (
	"errors"
	"runtime"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestFaultRestoresThreadState faults in code that set the direction
// (DF) and alignment-check (AC) flags, on a thread whose signal mask
// blocks SIGUSR2, and checks that the call comes back with the thread as
// it was: the handler leaves by a jump, not sigreturn (rp_uc_recover), so
// it must put the mask back itself (the handler ran with every signal
// blocked) and clear the flags the ABI wants clear.
func TestFaultRestoresThreadState(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var usr2, old, want unix.Sigset_t
	usr2.Val[0] = 1 << (uint(syscall.SIGUSR2) - 1)
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &usr2, &old); err != nil {
		t.Fatal(err)
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, nil, &want); err != nil {
		t.Fatal(err)
	}
	m := newTestImage(t, "flags.so")
	for i := 0; i < 3; i++ {
		_, err := Call(m.fn("flags_fault"), nil)
		var fe *FaultError
		if !errors.As(err, &fe) || fe.Signal != syscall.SIGSEGV || fe.Addr != 0 {
			t.Fatalf("flags_fault: %v, want a SIGSEGV at 0", err)
		}
		var got unix.Sigset_t
		if err := unix.PthreadSigmask(unix.SIG_BLOCK, nil, &got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("signal mask after a fault: %#x, want %#x", got.Val[:2], want.Val[:2])
		}
		r, err := Call(m.fn("read_flags"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Int&(1<<10|1<<18) != 0 {
			t.Errorf("flags after a fault: %#x, DF (0x400) and AC (0x40000) must be clear", r.Int)
		}
	}
}
