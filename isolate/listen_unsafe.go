//go:build linux && amd64 && cgo

package isolate

// This file speaks the seccomp listener's ioctls and reads the child's
// memory for the host's messages: both take the addresses of Go values
// (a struct the kernel fills or reads, a buffer process_vm_readv fills),
// which stay alive and unmoved for the call. The invariant: every struct
// matches the kernel's layout (linux/seccomp.h; the ioctl numbers encode
// their sizes), and what is read of the child is bounded by the buffer
// and used only for a message.

import (
	"bytes"
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// seccompNotif is struct seccomp_notif (80 bytes).
type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Data  struct {
		Nr                 int32
		Arch               uint32
		InstructionPointer uint64
		Args               [6]uint64
	}
}

// seccompNotifResp is struct seccomp_notif_resp (24 bytes).
type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// notifRecv receives the next notification into n (which must be zero:
// the kernel refuses a dirty buffer).
func notifRecv(fd uintptr, n *seccompNotif) error {
	*n = seccompNotif{}
	_, _, e := unix.Syscall(unix.SYS_IOCTL, fd, unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(n)))
	if e != 0 {
		return e
	}
	return nil
}

// notifSend answers notification id with -errno: the call fails, it is
// never made.
func notifSend(fd uintptr, id uint64, errno unix.Errno) error {
	return notifRespond(fd, seccompNotifResp{ID: id, Error: -int32(errno)})
}

// notifContinue lets the call of notification id run as the filter had
// allowed it (SECCOMP_USER_NOTIF_FLAG_CONTINUE, Linux 5.5): only for a
// phase call in the load phase (phase.go).
func notifContinue(fd uintptr, id uint64) error {
	return notifRespond(fd, seccompNotifResp{ID: id, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE})
}

// notifReturn answers notification id with the result v: the call is
// never made (the marker, phase.go).
func notifReturn(fd uintptr, id uint64, v int64) error {
	return notifRespond(fd, seccompNotifResp{ID: id, Val: v})
}

func notifRespond(fd uintptr, r seccompNotifResp) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, fd, unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&r)))
	if e != 0 {
		return e
	}
	return nil
}

// notifValid says whether notification id still waits for its answer
// (so that what was read of its task's memory was read from that task).
func notifValid(fd uintptr, id uint64) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, fd, unix.SECCOMP_IOCTL_NOTIF_ID_VALID, uintptr(unsafe.Pointer(&id)))
	if e != 0 {
		return e
	}
	return nil
}

// readChild copies len(b) bytes at addr of task tid's memory into b.
func readChild(tid int, addr uint64, b []byte) (int, error) {
	local := []unix.Iovec{{Base: &b[0], Len: uint64(len(b))}}
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(b)}}
	return unix.ProcessVMReadv(tid, local, remote, 0)
}

// readWord reads the 8-byte word at addr of task tid.
func readWord(tid int, addr uint64) (uint64, error) {
	var b [8]byte
	n, err := readChild(tid, addr, b[:])
	if err != nil {
		return 0, err
	}
	if n != len(b) {
		return 0, unix.EFAULT
	}
	return binary.NativeEndian.Uint64(b[:]), nil
}

// readString reads a NUL-terminated string of at most max bytes at addr
// of task tid (cut at max, or at the end of its readable memory).
func readString(tid int, addr uint64, max int) (string, error) {
	b := make([]byte, max)
	n, err := readChild(tid, addr, b)
	if err != nil {
		return "", err
	}
	b = b[:n]
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b), nil
}
