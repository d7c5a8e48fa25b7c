// Package seccomprule holds the types isolate writes its seccomp policies
// in: the shape of github.com/elastic/go-seccomp-bpf's, without that
// library, whose arch package builds maps of five architectures' system
// call tables at the start of every process that links it (0.65-1.0 ms;
// docs/FIRSTLOAD.md). isolate assembles the policies itself
// (isolate/seccomp_asm.go); the call tables it needs are generated from
// the library's (isolate/zsyscalls_amd64.go, go generate).
package seccomprule

// Action is a filter's answer to a call (a SECCOMP_RET_* value, with
// data in the low 16 bits).
type Action uint32

// The actions isolate's policies use: the kernel's SECCOMP_RET_* values
// (linux/seccomp.h), written out so that the package builds where
// x/sys/unix has no seccomp (its doc and vet run everywhere);
// TestActionsAreTheKernels holds them to unix's on Linux.
const (
	ActionTrap       Action = 0x00030000 // SECCOMP_RET_TRAP: SIGSYS
	ActionErrno      Action = 0x00050000 // SECCOMP_RET_ERRNO: fail with the errno in the low bits
	ActionUserNotify Action = 0x7fc00000 // SECCOMP_RET_USER_NOTIF: ask the listener
	ActionAllow      Action = 0x7fff0000 // SECCOMP_RET_ALLOW: run the call
)

// Operation compares a call's 64-bit argument with a condition's value.
type Operation string

// The operations isolate's policies use.
const (
	Equal      Operation = "Equal"      // the argument is the value
	BitsSet    Operation = "BitsSet"    // the argument has at least one of the value's bits
	BitsNotSet Operation = "BitsNotSet" // the argument has none of the value's bits
)

// Condition is a test of argument Argument (0 to 5).
type Condition struct {
	Argument  uint32
	Operation Operation
	Value     uint64
}

// NameWithConditions matches the call Name when every condition holds.
type NameWithConditions struct {
	Name       string
	Conditions []Condition
}

// SyscallGroup is the calls that get Action: by name alone, or by name
// and argument conditions (the field's spelling is the library's).
type SyscallGroup struct {
	Names              []string
	NamesWithCondtions []NameWithConditions
	Action             Action
}

// Policy gives a call the action of the first group that matches it,
// DefaultAction when none does.
type Policy struct {
	DefaultAction Action
	Syscalls      []SyscallGroup
}
