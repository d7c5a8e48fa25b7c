//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"math/rand/v2"
	"slices"
	"testing"

	seccomp "github.com/runplug/runplug/internal/seccomprule"
	"golang.org/x/sys/unix"
)

// TestAssembleRules: the assembled load filter decides every call as
// its rules say (the first group, in order, with a call whose
// conditions hold), checked against the rules read directly, for random
// arguments and arguments that meet or miss each condition; and
// openat(AT_FDCWD, path, O_RDWR), whose path has none of the write bits,
// is not read as open (go-seccomp-bpf's assembler allowed it).
func TestAssembleRules(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, pol := range []Policy{{}, {AllowOpen: true}, {Allow: []string{"openat", "prctl"}}} {
		// The rules as assemble maps them onto this architecture's table.
		p := forArch(loadPolicy(2, childUID(2), pol.AllowOpen, pol.Allow), archDiffs()[sysArchName])
		prog, err := assemble(p, seccomp.ActionTrap)
		if err != nil {
			t.Fatal(err)
		}
		vm := mustVM(t, prog)
		var interesting []uint64
		for _, g := range p.Syscalls {
			for _, nc := range g.NamesWithCondtions {
				for _, c := range nc.Conditions {
					interesting = append(interesting, c.Value, c.Value|1<<40, c.Value^1, ^c.Value, 0)
				}
			}
		}
		for name, nr := range testArch.SyscallNames {
			for range 40 {
				n := &seccompNotif{}
				n.Data.Nr, n.Data.Arch = int32(nr), uint32(testArch.ID)
				for i := range n.Data.Args {
					if rng.IntN(2) == 0 {
						n.Data.Args[i] = interesting[rng.IntN(len(interesting))]
					} else {
						n.Data.Args[i] = rng.Uint64() >> rng.IntN(64)
					}
				}
				if got, want := runVM(t, vm, n), ruleAction(p, name, n.Data.Args); got != want {
					t.Fatalf("%+v: %s(%#x): the filter returns %#x, its rules %#x", pol, name, n.Data.Args, got, want)
				}
			}
		}
		if slices.Contains(pol.Allow, "openat") {
			continue // allowed by name
		}
		n := &seccompNotif{}
		n.Data.Nr, n.Data.Arch = int32(unix.SYS_OPENAT), uint32(testArch.ID)
		n.Data.Args = [6]uint64{0xffffff9c, 0x10000000, unix.O_RDWR}
		if got := runVM(t, vm, n); got != uint32(seccomp.ActionTrap) {
			t.Errorf("%+v: openat(AT_FDCWD, 0x10000000, O_RDWR): %#x, want the default (forbidden)", pol, got)
		}
	}
}

// ruleAction decides a call from p's rules, as the filter should.
func ruleAction(p seccomp.Policy, name string, args [6]uint64) uint32 {
	for _, g := range p.Syscalls {
		if slices.Contains(g.Names, name) {
			return uint32(g.Action)
		}
		for _, nc := range g.NamesWithCondtions {
			if nc.Name == name && conditionsHold(nc.Conditions, args) {
				return uint32(g.Action)
			}
		}
	}
	return uint32(p.DefaultAction)
}

func conditionsHold(cs []seccomp.Condition, args [6]uint64) bool {
	for _, c := range cs {
		a := args[c.Argument]
		switch c.Operation {
		case seccomp.Equal:
			if a != c.Value {
				return false
			}
		case seccomp.BitsSet:
			if a&c.Value == 0 {
				return false
			}
		case seccomp.BitsNotSet:
			if a&c.Value != 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}
