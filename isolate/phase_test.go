//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// TestPhaseOneSource: phaseRules is the one list of the calls allowed
// for the load alone. For every x86-64 system call, with arguments that
// meet each rule's conditions, the filter with a listener (its phase
// calls let through, then refused) and the degraded filter with the run
// filter stacked at the switch (the fallback without a listener) decide
// the same, in both phases; and the host's classifier, assembled for
// pid 0 and no uid drop, classes every call a child's filter (for its
// own pid and drop) sends to the listener as that filter does.
func TestPhaseOneSource(t *testing.T) {
	values := []uint64{0, unix.PR_SET_PDEATHSIG, unix.PR_SET_VMA, phaseMarker, unix.O_WRONLY, unix.O_CREAT,
		unix.O_DIRECTORY, unix.CLONE_THREAD | unix.CLONE_VM, unix.TCGETS, unix.F_SETOWN, unix.F_GETFL,
		membarrierPrivateExpedited, 2, 1 << 40, uint64(childUID(2))}
	for _, pol := range []Policy{
		{},
		{AllowOpen: true},
		{Allow: []string{"memfd_create"}},
		{Allow: []string{"openat", "prctl", "setresuid", "seccomp"}},
		{Allow: []string{"openat", "creat"}, AllowOpen: true},
		{Allow: []string{"recvmsg", "open"}},
	} {
		load, run, err := filters(2, childUID(2), pol)
		if err != nil {
			t.Fatal(err)
		}
		lvm, dvm, rvm, cvm := mustVM(t, load), mustVM(t, degrade(load)), mustVM(t, run), mustVM(t, mustLoad(t, pol))
		phase := 0
		for name, nr := range testArch.SyscallNames {
			for _, v := range values {
				n := &seccompNotif{}
				n.Data.Nr, n.Data.Arch = int32(nr), uint32(testArch.ID)
				n.Data.Args = [6]uint64{v, v, v, v, v, v}
				if name == "openat" {
					n.Data.Args[0] = uint64(0xffffff9c) // AT_FDCWD
				}
				l, d, r := runVM(t, lvm, n), runVM(t, dvm, n), runVM(t, rvm, n)
				var ok bool
				switch l {
				case uint32(notifyPhase):
					phase++
					ok = d == unix.SECCOMP_RET_ALLOW && r == unix.SECCOMP_RET_TRAP
				case unix.SECCOMP_RET_ALLOW:
					ok = d == unix.SECCOMP_RET_ALLOW && r == unix.SECCOMP_RET_ALLOW
				case unix.SECCOMP_RET_USER_NOTIF, uint32(notifyMarker):
					ok = d == unix.SECCOMP_RET_TRAP
				case uint32(notifyClone3):
					ok = d == unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS)
				default: // an errno answer
					ok = d == l
				}
				if !ok {
					t.Errorf("%+v: %s(%#x...): with a listener %#x; degraded %#x, run filter %#x", pol, name, v, l, d, r)
				}
				// What the host does with a notification depends on
				// these classes alone (any other: refused).
				special := func(a uint32) bool {
					return a == uint32(notifyPhase) || a == uint32(notifyMarker) || a == uint32(notifyClone3)
				}
				if c := runVM(t, cvm, n); l&unix.SECCOMP_RET_ACTION_FULL == unix.SECCOMP_RET_USER_NOTIF && (special(l) || special(c)) && c != l {
					t.Errorf("%+v: %s(%#x...): the host classifies %#x, the child's filter %#x", pol, name, v, c, l)
				}
			}
		}
		if phase == 0 {
			t.Errorf("%+v: no phase call", pol)
		}
	}
}

// TestPhaseClasses pins what each phase means for the default policy.
func TestPhaseClasses(t *testing.T) {
	vm := mustVM(t, mustLoad(t, Policy{}))
	readOnly := uint32(notifyPhase)
	if raceEnabled {
		readOnly = unix.SECCOMP_RET_ALLOW // isolate/race.go
	}
	for _, tt := range []struct {
		name string
		args [6]uint64
		want uint32
	}{
		{"openat", [6]uint64{0xffffff9c, 0, unix.O_RDONLY}, readOnly},
		{"openat", [6]uint64{0xffffff9c, 0, unix.O_RDONLY | unix.O_DIRECTORY}, readOnly},
		{"openat", [6]uint64{0xffffff9c, 0, unix.O_WRONLY}, unix.SECCOMP_RET_USER_NOTIF},
		{"openat2", [6]uint64{}, unix.SECCOMP_RET_USER_NOTIF},
		{"memfd_create", [6]uint64{}, uint32(notifyPhase)},
		{"setresuid", [6]uint64{}, uint32(notifyPhase)},
		{"setuid", [6]uint64{}, unix.SECCOMP_RET_USER_NOTIF},
		{"seccomp", [6]uint64{}, uint32(notifyPhase)},
		{"prctl", [6]uint64{unix.PR_SET_PDEATHSIG}, uint32(notifyPhase)},
		{"prctl", [6]uint64{unix.PR_SET_VMA}, unix.SECCOMP_RET_ALLOW},
		{"prctl", [6]uint64{phaseMarker}, uint32(notifyMarker)},
		{"prctl", [6]uint64{phaseMarker | 1<<32}, unix.SECCOMP_RET_USER_NOTIF},
		{"read", [6]uint64{}, unix.SECCOMP_RET_ALLOW},
		{"clone3", [6]uint64{}, uint32(notifyClone3)},
	} {
		n := &seccompNotif{}
		n.Data.Nr, n.Data.Arch, n.Data.Args = int32(testArch.SyscallNames[tt.name]), uint32(testArch.ID), tt.args
		if got := runVM(t, vm, n); got != tt.want {
			t.Errorf("%s(%#x): %#x, want %#x", tt.name, tt.args, got, tt.want)
		}
	}
}

func mustLoad(t *testing.T, pol Policy) []unix.SockFilter {
	load, _, err := filters(0, -1, pol)
	if err != nil {
		t.Fatal(err)
	}
	return load
}

func mustVM(t *testing.T, prog []unix.SockFilter) *bpf.VM {
	vm, err := vmOf(prog)
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

func runVM(t *testing.T, vm *bpf.VM, n *seccompNotif) uint32 {
	d := seccompData(n)
	r, err := vm.Run(d[:])
	if err != nil {
		t.Fatal(err)
	}
	return uint32(r)
}

// TestDropRearm: a dropping child re-arms its parent-death signal as
// SIGKILL without a round trip to the listener, in either phase (dropArgs);
// any other prctl(PR_SET_PDEATHSIG), such as one that disarms it, stays a
// phase call (refused once plugin code may run), and the run filter of a
// child without a listener traps it.
func TestDropRearm(t *testing.T) {
	load, run, err := filters(2, childUID(2), Policy{})
	if err != nil {
		t.Fatal(err)
	}
	lvm, rvm := mustVM(t, load), mustVM(t, run)
	for _, tt := range []struct {
		sig       uint64
		load, run uint32
	}{
		{uint64(unix.SIGKILL), unix.SECCOMP_RET_ALLOW, unix.SECCOMP_RET_ALLOW},
		{0, uint32(notifyPhase), unix.SECCOMP_RET_TRAP},
		{uint64(unix.SIGTERM), uint32(notifyPhase), unix.SECCOMP_RET_TRAP},
	} {
		n := &seccompNotif{}
		n.Data.Nr, n.Data.Arch = int32(testArch.SyscallNames["prctl"]), uint32(testArch.ID)
		n.Data.Args = [6]uint64{unix.PR_SET_PDEATHSIG, tt.sig}
		if l, r := runVM(t, lvm, n), runVM(t, rvm, n); l != tt.load || r != tt.run {
			t.Errorf("prctl(PR_SET_PDEATHSIG, %d): load filter %#x, run filter %#x; want %#x, %#x", tt.sig, l, r, tt.load, tt.run)
		}
	}
}
