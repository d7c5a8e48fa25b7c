// childinit.h: the constructor that confines an isolated child before its
// Go runtime starts (childinit.c) and what it leaves for Go
// (childinit_cgo.go).

#ifndef RP_CHILDINIT_H
#define RP_CHILDINIT_H

// RP_CHILD_ENV is sandbox.EnvChildConfine.
#define RP_CHILD_ENV "RUNPLUG_CHILDINIT"

// RP_CHILD_ID_BASE is ChildIDBase: a child that keeps its uid's
// capabilities (KEEPID) takes the gid RP_CHILD_ID_BASE plus its pid (the
// host's view) at once, and later the same uid.
#define RP_CHILD_ID_BASE (1 << 30)

extern int rp_child_asked;        // 1 when RP_CHILD_ENV was set
extern int rp_child_landlock;     // the Landlock ABI applied, 0 for none
extern int rp_child_errno;        // 0, or the errno of rp_child_step
extern const char *rp_child_step; // the step that failed

#endif
