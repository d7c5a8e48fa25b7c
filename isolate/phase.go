//go:build linux && amd64 && cgo

package isolate

import (
	"encoding/binary"
	"fmt"
	"sync"

	seccomp "github.com/runplug/runplug/internal/seccomprule"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The two phases of a child with a listener (docs/ISOLATION.md, "Phases
// and the marker"). One filter, the load filter, carries the listener;
// the calls the load needs and plugin code may not make (phaseRules) go
// to the listener as phase calls. In the load phase, while only
// runplug's own code runs in the child, the host lets each through
// (SECCOMP_USER_NOTIF_FLAG_CONTINUE): the load filter of before allowed
// them outright, so CONTINUE decides nothing a pointer argument could
// change afterwards (the kernel's warning about CONTINUE is about using
// it as a security decision). Before the first plugin code
// (loader.Options.BeforeCode) the child makes the marker, a prctl with
// an option no kernel has, which the filter sends to the listener and
// the host never lets through: the host enters the run phase, then
// answers it with phaseAck, which the child checks. From then on every
// phase call is refused and named like any other forbidden call, from
// any thread, whatever signals it blocks; the phase never goes back, so
// a marker made again (by plugin code: the child's own is made once) is
// a forbidden call too.
//
// Why the marker cannot be forged into an escape: the switch only takes
// rights away, and no plugin code runs before the child's own marker
// (BeforeCode comes before IFUNC resolvers and constructors). The host
// answers one notification at a time, in the kernel's order: a phase
// call it receives after the marker is refused, whichever thread made
// it; one it received before was made before the marker was, so before
// any plugin code could run. And a child that replies to its load
// without having made the marker is refused (checkRunPhase).

// phaseMarker is the marker's prctl option ("rnph"): no PR_* constant.
const phaseMarker = 0x726e7068

// phaseAck is the host's answer to the marker: the value the marker's
// prctl returns.
const phaseAck = 0x61636b

// markerRule is the filter's rule for the marker.
func markerRule() seccomp.NameWithConditions {
	return seccomp.NameWithConditions{Name: "prctl", Conditions: []seccomp.Condition{
		{Argument: 0, Operation: seccomp.Equal, Value: phaseMarker}}}
}

// enterRunPhase is the child's marker (see above): it returns once the
// host has entered the run phase.
func enterRunPhase() error {
	r, _, e := unix.Syscall(unix.SYS_PRCTL, phaseMarker, 0, 0)
	if e != 0 || r != phaseAck {
		return fmt.Errorf("run phase: the host did not acknowledge the marker (%d, %v)", r, e)
	}
	return nil
}

// classifier runs a child's load filter on a notification's data to
// find which of its listener actions sent it (the kernel does not pass
// the action's data on). The classes do not depend on the pid the
// filter was assembled for (only ownSignals's allow rules name it) nor
// on the uid the child drops to (dropArgs allows some calls outright,
// which never reach the listener), so an Isolator assembles one, for
// pid 0 and no drop, the first time it needs it.
type classifier struct {
	once sync.Once
	vm   *bpf.VM
	err  error
}

// classify returns the load filter's action for the call of n: one of
// notifyPhase, notifyMarker, notifyClone3, or any other value for a
// call the filter forbids (an error to assemble it counts as that).
func (c *classifier) classify(pol Policy, n *seccompNotif) uint32 {
	c.once.Do(func() { c.vm, c.err = loadVM(pol) })
	if c.err != nil {
		return unix.SECCOMP_RET_USER_NOTIF
	}
	d := seccompData(n)
	r, err := c.vm.Run(d[:])
	if err != nil {
		return unix.SECCOMP_RET_USER_NOTIF
	}
	return uint32(r)
}

// seccompData is n's struct seccomp_data as x/net/bpf's VM reads it:
// its loads take words in network order, seccomp's are native, so each
// word is laid out big-endian.
func seccompData(n *seccompNotif) [64]byte {
	var d [64]byte
	binary.BigEndian.PutUint32(d[0:], uint32(n.Data.Nr))
	binary.BigEndian.PutUint32(d[4:], n.Data.Arch)
	words := append([]uint64{n.Data.InstructionPointer}, n.Data.Args[:]...)
	for i, w := range words {
		binary.BigEndian.PutUint32(d[8+8*i:], uint32(w))
		binary.BigEndian.PutUint32(d[12+8*i:], uint32(w>>32))
	}
	return d
}

// loadVM assembles pol's load filter for pid 0, no drop, into a VM.
func loadVM(pol Policy) (*bpf.VM, error) {
	load, _, err := filters(0, -1, pol)
	if err != nil {
		return nil, err
	}
	return vmOf(load)
}

// vmOf turns a filter into a VM that runs it.
func vmOf(prog []unix.SockFilter) (*bpf.VM, error) {
	ins := make([]bpf.Instruction, len(prog))
	for i, in := range prog {
		ins[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}.Disassemble()
	}
	return bpf.NewVM(ins)
}
