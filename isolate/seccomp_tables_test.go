//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"slices"
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
	seccomp "github.com/runplug/runplug/internal/seccomprule"
)

// policyNames lists the names p's groups use.
func policyNames(p seccomp.Policy) []string {
	var out []string
	for _, g := range p.Syscalls {
		out = append(out, g.Names...)
		for _, nc := range g.NamesWithCondtions {
			out = append(out, nc.Name)
		}
	}
	return out
}

// TestPolicyTablesAgree holds the one policy definition against every
// architecture's table, on every build: each name maps (archDiffs) to a
// call the table has; each call an architecture lacks is truly absent
// from its table, and its replacement is in the same policy; each renamed
// call is absent under its x86-64 name and present under the other. A
// table that gains, loses or renames a call fails here.
func TestPolicyTablesAgree(t *testing.T) {
	policies := map[string]seccomp.Policy{
		"load": loadPolicy(1, childUID(1), false, nil),
		"run":  runPolicy(childUID(1), false, nil),
	}
	for name, d := range archDiffs() {
		info, err := arch.GetInfo(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for pname, p := range policies {
			names := policyNames(p)
			for _, n := range names {
				if repl, ok := d.lacks[n]; ok {
					if !slices.Contains(names, repl) {
						t.Errorf("%s, %s policy: %q is lacked, but its replacement %q is not in the policy", name, pname, n, repl)
					}
					continue
				}
				m := n
				if r, ok := d.renames[n]; ok {
					m = r
				}
				if _, ok := info.SyscallNames[m]; !ok {
					t.Errorf("%s, %s policy: %q (as %q) is not in the table", name, pname, n, m)
				}
			}
			if mapped := policyNames(forArch(p, d)); len(mapped) > len(names) {
				t.Errorf("%s, %s policy: forArch added names: %v", name, pname, mapped)
			}
		}
		for n := range d.lacks {
			if _, ok := info.SyscallNames[n]; ok {
				t.Errorf("%s: lacks %q, but its table has it", name, n)
			}
		}
		for from, to := range d.renames {
			_, hasFrom := info.SyscallNames[from]
			_, hasTo := info.SyscallNames[to]
			if hasFrom || !hasTo {
				t.Errorf("%s: renames %q to %q, but the table has %q %v and %q %v", name, from, to, from, hasFrom, to, hasTo)
			}
		}
	}
	// The policy is assembled for this build's architecture.
	for pname, p := range policies {
		if _, err := assemble(p, seccomp.ActionTrap); err != nil {
			t.Errorf("%s policy for %s: %v", pname, sysArchName, err)
		}
	}
	if err := checkNames([]string{"open", "newfstatat", "openat"}); err != nil {
		t.Errorf("checkNames of x86-64 names: %v", err)
	}
	if err := checkNames([]string{"no_such_call"}); err == nil {
		t.Error("checkNames accepted an unknown name")
	}
}

// nameSyscallCase is a trapped call's si_arch and si_syscall, and how
// nameSyscall names it.
type nameSyscallCase struct {
	arch, nr   uint32
	want, name string
	num        int
}

// TestNameSyscall: a trapped call is named from its architecture's table
// (nameSyscallCases, per architecture).
func TestNameSyscall(t *testing.T) {
	for _, tt := range nameSyscallCases {
		a, num, name := nameSyscall(tt.arch, tt.nr)
		if a != tt.want || num != tt.num || name != tt.name {
			t.Errorf("nameSyscall(%#x, %#x) = %q, %d, %q; want %q, %d, %q", tt.arch, tt.nr, a, num, name, tt.want, tt.num, tt.name)
		}
	}
}

// testArch is this architecture's table as go-seccomp-bpf has it (the
// tests may link the library; the filters do not).
var testArch = func() *arch.Info {
	a, err := arch.GetInfo(sysArchName)
	if err != nil {
		panic(err)
	}
	return a
}()
