//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"fmt"
	"os"
	"syscall"

	seccomp "github.com/runplug/runplug/internal/seccomprule"
	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/childrt"
)

// A root host's child runs as a uid of its own, unprivileged and owned by
// no file: childUIDBase plus its pid. It opens the plugin and its
// libraries as uid 0 (they may sit in a directory only root can read),
// with no supplementary group and that id as its gid already (the
// constructor drops them while the process has one thread: childrt's
// ChildConfineEnv), then, before the first plugin code
// (loader.Options.BeforeCode), drops its uid to that one. A uid of its own (not "nobody",
// which every child would share) means RLIMIT_NPROC counts its threads
// alone, and no sibling child or other process is its to signal or
// trace. The child of an unprivileged host runs in a user namespace of
// its own as the host's uid, with no capability in it (docs/ISOLATION.md).
const childUIDBase = childrt.ChildIDBase

// childUID is the uid and gid a root host's child with pid drops to.
func childUID(pid int) int { return childUIDBase + pid }

// dropCalls are the calls of the drop, allowed by the load filter and
// refused by the run filter, but with dropArgs's arguments.
var dropCalls = []string{"setgroups", "setresuid", "setresgid"}

// dropArgs allows the drop's calls with the arguments of the drop to id
// (no groups; id for the real, effective and saved ids) in both phases:
// glibc makes each on every thread of the child (the setxid broadcast),
// which would otherwise cost each thread three round trips to the host's
// listener at every start; once made, they change nothing. The same
// holds for re-arming the parent-death signal as SIGKILL, which the
// drop clears and dropUID sets again: allowed in both phases, it costs
// no round trip, and it can only set what the child's start set (any
// other prctl(PR_SET_PDEATHSIG), such as one that disarms it, is still
// dropRule's phase call). id < 0: no drop (the host is not root).
func dropArgs(id int) []seccomp.NameWithConditions {
	if id < 0 {
		return nil
	}
	same := func(name string) seccomp.NameWithConditions {
		nc := seccomp.NameWithConditions{Name: name}
		for a := range 3 {
			nc.Conditions = append(nc.Conditions, seccomp.Condition{Argument: uint32(a), Operation: seccomp.Equal, Value: uint64(id)})
		}
		return nc
	}
	return []seccomp.NameWithConditions{
		{Name: "setgroups", Conditions: []seccomp.Condition{{Argument: 0, Operation: seccomp.Equal, Value: 0}}},
		same("setresgid"), same("setresuid"),
		{Name: "prctl", Conditions: []seccomp.Condition{
			{Argument: 0, Operation: seccomp.Equal, Value: unix.PR_SET_PDEATHSIG},
			{Argument: 1, Operation: seccomp.Equal, Value: uint64(unix.SIGKILL)}}},
	}
}

// dropID is the uid a root host's child with pid (the host's view)
// drops to, for its filters; -1 for a host that is not root.
func dropID(pid int) int {
	if os.Geteuid() != 0 {
		return -1
	}
	return childUID(pid)
}

// dropRule allows re-arming the parent-death signal the uid change
// clears (the load filter allows dropCalls by name).
func dropRule() seccomp.NameWithConditions {
	return seccomp.NameWithConditions{Name: "prctl", Conditions: []seccomp.Condition{
		{Argument: 0, Operation: seccomp.Equal, Value: unix.PR_SET_PDEATHSIG}}}
}

// hostPid is the host that started this process (read before anything
// could reparent it).
var hostPid = os.Getppid()

// dropUID moves a root host's child to its own uid (nothing otherwise)
// and returns the uid it runs as now (0 when it kept the host's). glibc
// applies each change to every thread (the setxid broadcast); the change
// clears the parent-death signal, set again here, and every capability.
func dropUID() (int, error) {
	if os.Getuid() != 0 {
		return 0, nil
	}
	id := childUID(childrt.HostPid()) // unique among live children; in a PID namespace every child is pid 2
	if os.Getgid() != id {
		// The constructor could not (ChildConfinement says why): each
		// change now costs a setxid broadcast to every thread.
		if err := syscall.Setgroups(nil); err != nil {
			return 0, fmt.Errorf("setgroups: %w", err)
		}
		if err := syscall.Setresgid(id, id, id); err != nil {
			return 0, fmt.Errorf("setresgid %d: %w", id, err)
		}
	}
	if err := syscall.Setresuid(id, id, id); err != nil {
		return 0, fmt.Errorf("setresuid %d: %w", id, err)
	}
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return 0, fmt.Errorf("parent-death signal: %w", err)
	}
	if os.Getppid() != hostPid {
		os.Exit(childrt.ExitOrphan) // the host died before the signal was armed again
	}
	return id, nil
}
