package childrt

import "fmt"

// EnvEarlyNamespaces names the environment variable that asks a child
// process (a runplug host binary started again, as package isolate does)
// to enter new namespaces before its Go runtime starts: a C constructor
// reads it while the process is still single-threaded, which
// unshare(CLONE_NEWUSER) requires, so the parent can start the child
// with a plain vfork instead of copying itself (CLONE_NEWUSER at the
// fork). EarlyNamespaces tells the child what it got. Set it with
// EarlyNamespacesEnv.
const EnvEarlyNamespaces = "RUNPLUG_NSINIT"

// ExitOrphan is the exit status of a child asked for early namespaces
// whose parent was no longer the process named in the request once its
// parent-death signal was armed again: the parent died meanwhile.
const ExitOrphan = 119

// ExitLost is the exit status of a child in a PID namespace of its own
// whose waiting processes lost the status of the plugin's process
// (pidns.c; not expected: the host reports it as it is).
const ExitLost = 118

// PluginPidInNamespace is the pid the plugin's process has in a PID
// namespace of its own: the namespace's init is 1, made just before it.
const PluginPidInNamespace = 2

// EarlyNamespacesEnv returns the environment entry (NAME=value) that asks
// a child for the namespaces in flags (CLONE_NEWUSER, CLONE_NEWNS,
// CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWPID; with
// CLONE_NEWUSER it maps its own uid and gid, with setgroups denied),
// whose parent must be the process parent (the child ends with
// ExitOrphan otherwise). With CLONE_NEWPID the child runs as three
// processes: the one started, which waits and ends as the plugin's
// process ends (the same exit status or signal), and its two children,
// the namespace's init (pid 1), which reaps, and the plugin's process
// (pid 2), in which alone the Go runtime starts.
func EarlyNamespacesEnv(flags, parent int) string {
	return fmt.Sprintf("%s=%x:%d", EnvEarlyNamespaces, flags, parent)
}
