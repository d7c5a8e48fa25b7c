// nsinit.h: the constructor that gives an isolated child its namespaces
// (nsinit.c) and what it leaves for Go (nsinit_cgo.go).

#ifndef RP_NSINIT_H
#define RP_NSINIT_H

// RP_NS_ENV is sandbox.EnvEarlyNamespaces.
#define RP_NS_ENV "RUNPLUG_NSINIT"
// RP_NS_EXIT_ORPHAN is the exit status of a child whose host died before
// its parent-death signal was armed again.
#define RP_NS_EXIT_ORPHAN 119
// RP_NS_EXIT_LOST is the exit status of a PID namespace's waiter that
// lost the plugin's process's status (pidns.c; never expected).
#define RP_NS_EXIT_LOST 118

extern int rp_ns_asked;        // the CLONE_NEW* flags asked for
extern int rp_ns_flags;        // the flags unshare made
extern int rp_ns_hostpid;      // this child's pid in the host's view
extern int rp_ns_proc_errno;   // why /proc was not mounted for the PID namespace (0: it was)
extern int rp_ns_errno;        // 0, or the errno of rp_ns_step
extern const char *rp_ns_step; // the step that failed

void rp_ns_fail(const char *step, int e);
// rp_ns_enter_pid (pidns.c) runs the process in the PID namespace
// unshare made: it returns in pid 2, the plugin's process, and never in
// the two that wait.
void rp_ns_enter_pid(void);

#endif
