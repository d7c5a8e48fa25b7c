package childrt

import "fmt"

// EnvChildConfine names the environment variable that asks a child
// process (a runplug host binary started again, as package isolate does)
// to confine itself before its Go runtime starts, while it is still
// single-threaded: a C constructor closes every descriptor above the one
// named, sets no_new_privs, gives up its capabilities, and enters a
// Landlock domain that refuses writes, execution, TCP and signals
// outside the process where the kernel has Landlock. ChildConfinement
// tells the child what it got. Set it with ChildConfineEnv.
const EnvChildConfine = "RUNPLUG_CHILDINIT"

// ChildIDBase is the first of the ids a child asked to keep its uid's
// capabilities takes: ChildIDBase plus its pid (the host's view), as its
// gid at once and as its uid later.
const ChildIDBase = 1 << 30

// ChildConfineEnv returns the environment entry (NAME=value) that asks a
// child to confine itself, keeping descriptors 0 to keep; keepID keeps
// CAP_SETUID (and nothing else), for a child that is to change its uid
// later, and gives up its groups and gid for ChildIDBase plus its pid at
// once (if that fails, it keeps CAP_SETGID too, to do it later).
func ChildConfineEnv(keep int, keepID bool) string {
	id := 0
	if keepID {
		id = 1
	}
	return fmt.Sprintf("%s=%d:%d", EnvChildConfine, keep, id)
}

// IdleEnv is the environment entry that makes a child enter SCHED_IDLE
// in its first constructor (idle.c), before it forks or starts threads.
const IdleEnv = "RUNPLUG_CHILD_IDLE=1"
