//go:build linux && amd64 && cgo

package isolate

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// TestFilterSemantics runs the assembled filters on every x86-64 system
// call number, with arguments around every value a condition names, in a
// BPF interpreter, and checks each answer against the policy's meaning
// (the first group with a matching rule, else the default).
//
// go-seccomp-bpf's assembly of the same policies, which runplug installed
// before, fails it: after a call's conditions fail, its program compares
// the argument word left in the accumulator with the next calls' numbers.
// openat(dirfd, path, O_RDWR) then ran open's rule on the path pointer and
// was allowed whenever the pointer's low word had none of the write bits;
// a membarrier other than the gate's was trapped instead of answered
// ENOSYS.
func TestFilterSemantics(t *testing.T) {
	for _, tc := range []struct {
		name    string
		p       policy
		foreign uint32
	}{
		{"load", loadPolicy(4321, nil), unix.SECCOMP_RET_TRAP},
		{"load+allow", loadPolicy(1, []string{"socket", "ptrace"}), unix.SECCOMP_RET_TRAP},
		{"run", runPolicy(false, nil), unix.SECCOMP_RET_ALLOW},
		{"run+open", runPolicy(true, []string{"memfd_create"}), unix.SECCOMP_RET_ALLOW},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prog, err := tc.p.assemble(tc.foreign)
			if err != nil {
				t.Fatal(err)
			}
			vm := vmOf(t, prog)
			n := 0
			for _, in := range filterInputs(tc.p) {
				if got, want := runVM(t, vm, in), tc.p.eval(in, tc.foreign); got != want {
					t.Errorf("%v: filter %#x, policy %#x", in, got, want)
				}
				n++
			}
			t.Logf("%d inputs, %d instructions", n, len(prog))
		})
	}
}

// TestFilterRefuses: a policy the assembler cannot express is an error.
func TestFilterRefuses(t *testing.T) {
	many := make([]rule, 80)
	for i := range many {
		many[i] = rule{"fcntl", []cond{{1, opEqual, uint64(i)}}}
	}
	for _, tc := range []struct {
		name string
		g    group
	}{
		{"unknown", group{unix.SECCOMP_RET_ALLOW, names("nosuchcall")}},
		{"twice", group{unix.SECCOMP_RET_ALLOW, names("read", "read")}},
		{"plain and conditional", group{unix.SECCOMP_RET_ALLOW, append(names("fcntl"), rule{"fcntl", []cond{{1, opEqual, 1}}})}},
		{"argument 6", group{unix.SECCOMP_RET_ALLOW, []rule{{"fcntl", []cond{{6, opEqual, 1}}}}}},
		{"block too long", group{unix.SECCOMP_RET_ALLOW, many}},
	} {
		if _, err := (policy{def: unix.SECCOMP_RET_TRAP, groups: []group{tc.g}}).assemble(unix.SECCOMP_RET_TRAP); err == nil {
			t.Errorf("%s: assembled", tc.name)
		}
	}
}

// sysInput is what a filter reads of a system call.
type sysInput struct {
	arch, nr uint32
	args     [6]uint64
}

func (in sysInput) String() string {
	return fmt.Sprintf("arch %#x nr %d (%s) args %#x", in.arch, in.nr, sysX86_64[min(int(in.nr), len(sysX86_64)-1)], in.args)
}

// filterInputs: every x86-64 call with zero arguments, other
// architectures and x32, and each conditional call with each argument a
// condition reads set to values on both sides of every condition.
func filterInputs(p policy) []sysInput {
	var out []sysInput
	for nr := range uint32(len(sysX86_64) + 4) {
		out = append(out, sysInput{arch: unix.AUDIT_ARCH_X86_64, nr: nr})
	}
	out = append(out, sysInput{arch: unix.AUDIT_ARCH_I386, nr: 11}, sysInput{arch: unix.AUDIT_ARCH_X86_64, nr: x32Bit | 59},
		sysInput{arch: unix.AUDIT_ARCH_AARCH64, nr: 0})
	vals := []uint64{0, ^uint64(0), 1 << 40}
	for _, g := range p.groups {
		for _, r := range g.rules {
			for _, c := range r.conds {
				low := c.val & -c.val
				vals = append(vals, c.val, c.val^low, c.val|1<<33, c.val&^low|1<<bits.TrailingZeros64(^c.val))
			}
		}
	}
	for _, g := range p.groups {
		for _, r := range g.rules {
			for _, c := range r.conds {
				for _, v := range vals {
					in := sysInput{arch: unix.AUDIT_ARCH_X86_64, nr: sysNumbers()[r.name]}
					in.args[c.arg] = v
					out = append(out, in)
				}
			}
		}
	}
	return out
}

// eval is the policy's meaning.
func (p policy) eval(in sysInput, foreign uint32) uint32 {
	if in.arch != unix.AUDIT_ARCH_X86_64 || in.nr >= x32Bit {
		return foreign
	}
	for _, g := range p.groups {
		for _, r := range g.rules {
			if sysNumbers()[r.name] == in.nr && r.holds(in.args) {
				return g.action
			}
		}
	}
	return p.def
}

func (r rule) holds(args [6]uint64) bool {
	for _, c := range r.conds {
		a := args[c.arg]
		switch c.op {
		case opEqual:
			if a != c.val {
				return false
			}
		case opBitsSet:
			if a&c.val == 0 {
				return false
			}
		case opBitsNotSet:
			if a&c.val != 0 {
				return false
			}
		}
	}
	return true
}

func vmOf(t *testing.T, prog []unix.SockFilter) *bpf.VM {
	t.Helper()
	ins := make([]bpf.Instruction, len(prog))
	for i, f := range prog {
		ins[i] = bpf.RawInstruction{Op: f.Code, Jt: f.Jt, Jf: f.Jf, K: f.K}.Disassemble()
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

// runVM runs vm on in laid out as struct seccomp_data. The interpreter
// loads words big-endian where the kernel loads them in the machine's
// order, so each 32-bit word is stored big-endian.
func runVM(t *testing.T, vm *bpf.VM, in sysInput) uint32 {
	t.Helper()
	b := make([]byte, 64)
	be := binary.BigEndian
	be.PutUint32(b[dataNr:], in.nr)
	be.PutUint32(b[dataArch:], in.arch)
	for i, a := range in.args {
		be.PutUint32(b[dataArgs+8*i:], uint32(a))
		be.PutUint32(b[dataArgs+8*i+4:], uint32(a>>32))
	}
	r, err := vm.Run(b)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(r)
}
