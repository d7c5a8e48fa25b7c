//go:build linux && amd64 && cgo

package isolate

import (
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// The child's seccomp filters are assembled here, from the policy
// definitions of seccomp.go, into classic BPF. The system call numbers
// come from tables generated from go-seccomp-bpf's (zsyscalls_amd64.go,
// TestSyscallTables): linking that library ran its tables' construction
// (maps of five architectures) at the start of every process importing
// isolate, whether it ever isolated a plugin or not (docs/FIRSTLOAD.md).
// TestFilterSemantics runs what is assembled here against the policy's
// meaning and against the library's assembly of the same policy.

// condOp is how a condition compares a 64-bit argument with its value.
type condOp uint8

const (
	opEqual      condOp = iota // the argument is the value
	opBitsSet                  // the argument has at least one of the value's bits
	opBitsNotSet               // the argument has none of the value's bits
)

// cond is a condition on argument arg (0 to 5) of a system call.
type cond struct {
	arg uint32
	op  condOp
	val uint64
}

// rule matches the system call name when every condition holds (always,
// with none). Several rules of one group for one name are alternatives.
type rule struct {
	name  string
	conds []cond
}

// group is a set of rules with the action of any call they match.
type group struct {
	action uint32 // a SECCOMP_RET_* value
	rules  []rule
}

// policy gives a call the action of the first group with a rule that
// matches it, and def when none does.
type policy struct {
	def    uint32
	groups []group
}

// names returns one rule per name, without conditions.
func names(ns ...string) []rule {
	out := make([]rule, len(ns))
	for i, n := range ns {
		out[i] = rule{name: n}
	}
	return out
}

// seccompData offsets (linux/seccomp.h): nr, arch, then args[6] from 16
// (little-endian: the low word of an argument first).
const (
	dataNr   = 0
	dataArch = 4
	dataArgs = 16
)

// sysNumbers maps an x86-64 system call name to its number.
var sysNumbers = sync.OnceValue(func() map[string]uint32 {
	m := make(map[string]uint32, len(sysX86_64))
	for nr, n := range sysX86_64 {
		if n != "" {
			m[n] = uint32(nr)
		}
	}
	return m
})

// checkNames refuses unknown system call names in a policy.
func checkNames(ns []string) error {
	for _, n := range ns {
		if _, ok := sysNumbers()[n]; !ok {
			return fmt.Errorf("isolate: policy: unknown system call %q", n)
		}
	}
	return nil
}

// assemble turns p into classic BPF after archGuard, which gives calls of
// another architecture or of the x32 ABI the action foreign.
func (p policy) assemble(foreign uint32) ([]unix.SockFilter, error) {
	prog := archGuard(foreign) // leaves the call number in the accumulator
	haveNr := true
	for _, g := range p.groups {
		calls, err := g.byCall()
		if err != nil {
			return nil, fmt.Errorf("isolate: seccomp: %w", err)
		}
		for _, c := range calls {
			block, err := c.block(g.action)
			if err != nil {
				return nil, fmt.Errorf("isolate: seccomp: %s: %w", c.name, err)
			}
			// The conditions of the call before, when they failed,
			// left an argument in the accumulator: load the number
			// again.
			if !haveNr {
				prog = append(prog, stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, dataNr))
			}
			prog = append(prog, jump(unix.BPF_JEQ, c.nr, 0, len(block)))
			prog = append(prog, block...)
			haveNr = c.plain
		}
	}
	prog = append(prog, ret(p.def))
	if len(prog) > bpfMaxInsns {
		return nil, fmt.Errorf("isolate: seccomp: filter of %d instructions (at most %d)", len(prog), bpfMaxInsns)
	}
	return prog, nil
}

// callRules are a group's rules for one system call.
type callRules struct {
	name  string
	nr    uint32
	alts  [][]cond // alternatives; nil: the call alone
	plain bool     // a rule without conditions
}

// byCall gathers g's rules by system call, in the order the calls first
// appear. Like the policy library runplug used before, it refuses a
// name given twice without conditions, or both with and without.
func (g group) byCall() ([]callRules, error) {
	var out []callRules
	at := map[string]int{}
	for _, r := range g.rules {
		nr, ok := sysNumbers()[r.name]
		if !ok {
			return nil, fmt.Errorf("unknown system call %q", r.name)
		}
		for _, c := range r.conds {
			if c.arg > 5 {
				return nil, fmt.Errorf("%s: argument %d (0 to 5)", r.name, c.arg)
			}
		}
		i, seen := at[r.name]
		if !seen {
			at[r.name] = len(out)
			out = append(out, callRules{name: r.name, nr: nr, plain: len(r.conds) == 0})
			if len(r.conds) > 0 {
				out[len(out)-1].alts = [][]cond{r.conds}
			}
			continue
		}
		if out[i].plain || len(r.conds) == 0 {
			return nil, fmt.Errorf("system call %q given twice, once without conditions", r.name)
		}
		out[i].alts = append(out[i].alts, r.conds)
	}
	return out, nil
}

// block is what runs once the call number matched: action when the call
// has no conditions or when one alternative's all hold; the end of the
// block (the next call's check) when none does.
func (c callRules) block(action uint32) ([]unix.SockFilter, error) {
	if c.plain {
		return []unix.SockFilter{ret(action)}, nil
	}
	var out []unix.SockFilter
	for _, alt := range c.alts {
		var a []unix.SockFilter
		for _, cd := range alt {
			a = append(a, cd.test()...)
		}
		a = append(a, ret(action))
		// Every failing test jumps to the end of its alternative: the
		// next alternative, or the end of the block.
		for i := range a {
			if a[i].Jt == failMark {
				a[i].Jt = uint8(min(len(a)-i-1, 0xff))
			}
			if a[i].Jf == failMark {
				a[i].Jf = uint8(min(len(a)-i-1, 0xff))
			}
		}
		out = append(out, a...)
	}
	if len(out) > 0xfe {
		return nil, fmt.Errorf("%d instructions of conditions (at most 254)", len(out))
	}
	return out, nil
}

// failMark is a jump offset to be replaced by the distance to the end of
// the alternative (no real offset is 0xfe: blocks are shorter).
const failMark = 0xfe

// test checks the condition on its argument's high word, then its low
// word, jumping to failMark when it does not hold and falling through
// when it does.
func (c cond) test() []unix.SockFilter {
	hi, lo := uint32(c.val>>32), uint32(c.val)
	ldHi := stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, dataArgs+8*c.arg+4)
	ldLo := stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, dataArgs+8*c.arg)
	switch c.op {
	case opEqual:
		return []unix.SockFilter{ldHi, jump(unix.BPF_JEQ, hi, 0, failMark), ldLo, jump(unix.BPF_JEQ, lo, 0, failMark)}
	case opBitsSet: // a bit in the high word suffices: skip the low one
		return []unix.SockFilter{ldHi, jump(unix.BPF_JSET, hi, 2, 0), ldLo, jump(unix.BPF_JSET, lo, 0, failMark)}
	default: // opBitsNotSet
		return []unix.SockFilter{ldHi, jump(unix.BPF_JSET, hi, failMark, 0), ldLo, jump(unix.BPF_JSET, lo, failMark, 0)}
	}
}

func stmt(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }

func jump(op uint16, k uint32, jt, jf int) unix.SockFilter {
	return unix.SockFilter{Code: unix.BPF_JMP | op | unix.BPF_K, K: k, Jt: uint8(jt), Jf: uint8(jf)}
}

func ret(action uint32) unix.SockFilter { return stmt(unix.BPF_RET|unix.BPF_K, action) }
