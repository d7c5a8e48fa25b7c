//go:build linux && amd64 && cgo

package isolate

import (
	"fmt"

	seccomp "github.com/runplug/runplug/internal/seccomprule"
	"golang.org/x/net/bpf"
)

// assembleRules turns a policy into classic BPF, archGuard's action for
// calls of other architectures first. It is runplug's own, not
// go-seccomp-bpf's Policy.Assemble: that one (v1.6.0) leaves an argument
// in the accumulator when a call's conditions fail and compares it with
// the next calls' numbers, so that openat(AT_FDCWD, path, O_RDWR) read as
// open (number 2) with path as its flags, and was allowed when the
// path's address had none of the write bits (TestAssembleRules). Here
// every call's block loads the number again. Each group's calls are
// tried in order, the groups in order, the first match giving its
// group's action. The rules are in internal/seccomprule's types; the
// call numbers come from tables generated from the library's
// (zsyscalls_amd64.go), so that no process links it.
func assembleRules(p seccomp.Policy, foreign seccomp.Action) ([]bpf.Instruction, error) {
	out := archGuard(foreign)
	for _, g := range p.Syscalls {
		var err error
		if out, err = appendNames(out, g.Names, g.Action); err != nil {
			return nil, err
		}
		var order []string
		byName := map[string][][]seccomp.Condition{}
		for _, nc := range g.NamesWithCondtions {
			if _, ok := byName[nc.Name]; !ok {
				order = append(order, nc.Name)
			}
			byName[nc.Name] = append(byName[nc.Name], nc.Conditions)
		}
		for _, name := range order {
			if out, err = appendConditional(out, name, byName[name], g.Action); err != nil {
				return nil, err
			}
		}
	}
	return append(out, bpf.RetConstant{Val: uint32(p.DefaultAction)}), nil
}

// syscallNumber is name's x86-64 number.
func syscallNumber(name string) (uint32, error) {
	nr, ok := sysNumbers()[name]
	if !ok {
		return 0, fmt.Errorf("unknown system call %q", name)
	}
	return uint32(nr), nil
}

const nrOff, argsOff = 0, 16 // in struct seccomp_data

// appendNames: the number loaded, a match with any of names returns
// action.
func appendNames(out []bpf.Instruction, names []string, action seccomp.Action) ([]bpf.Instruction, error) {
	if len(names) == 0 {
		return out, nil
	}
	if len(names) > 250 {
		return nil, fmt.Errorf("%d calls in one group (at most 250)", len(names))
	}
	out = append(out, bpf.LoadAbsolute{Off: nrOff, Size: 4})
	for i, n := range names {
		nr, err := syscallNumber(n)
		if err != nil {
			return nil, err
		}
		// Past the other comparisons and the jump over the return.
		out = append(out, bpf.JumpIf{Cond: bpf.JumpEqual, Val: nr, SkipTrue: uint8(len(names) - i)})
	}
	return append(out, bpf.Jump{Skip: 1}, bpf.RetConstant{Val: uint32(action)}), nil
}

// appendConditional: the number loaded, a call name whose arguments meet
// every condition of any of sets returns action.
func appendConditional(out []bpf.Instruction, name string, sets [][]seccomp.Condition, action seccomp.Action) ([]bpf.Instruction, error) {
	nr, err := syscallNumber(name)
	if err != nil {
		return nil, err
	}
	var block []bpf.Instruction
	type fail struct {
		at     int  // a test in the set
		onTrue bool // which of its branches fails the set
	}
	for _, set := range sets {
		var fails []fail
		var sb []bpf.Instruction
		for _, c := range set {
			if c.Argument > 5 {
				return nil, fmt.Errorf("%s: argument %d", name, c.Argument)
			}
			hi := bpf.LoadAbsolute{Off: argsOff + 8*c.Argument + 4, Size: 4}
			lo := bpf.LoadAbsolute{Off: argsOff + 8*c.Argument, Size: 4}
			vhi, vlo := uint32(c.Value>>32), uint32(c.Value)
			n := len(sb)
			switch c.Operation {
			case seccomp.Equal: // hi == vhi && lo == vlo
				sb = append(sb, hi, bpf.JumpIf{Cond: bpf.JumpEqual, Val: vhi}, lo, bpf.JumpIf{Cond: bpf.JumpEqual, Val: vlo})
				fails = append(fails, fail{n + 1, false}, fail{n + 3, false})
			case seccomp.BitsNotSet: // hi&vhi == 0 && lo&vlo == 0
				sb = append(sb, hi, bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: vhi}, lo, bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: vlo})
				fails = append(fails, fail{n + 1, true}, fail{n + 3, true})
			case seccomp.BitsSet: // hi&vhi != 0 || lo&vlo != 0
				sb = append(sb, hi, bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: vhi, SkipTrue: 2}, lo, bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: vlo})
				fails = append(fails, fail{n + 3, false})
			default:
				return nil, fmt.Errorf("%s: condition operation %v", name, c.Operation)
			}
		}
		sb = append(sb, bpf.RetConstant{Val: uint32(action)})
		for _, f := range fails { // to the next set, past the return
			skip := len(sb) - f.at - 1
			if skip > 255 {
				return nil, fmt.Errorf("%s: conditions too long", name)
			}
			ji := sb[f.at].(bpf.JumpIf)
			if f.onTrue {
				ji.SkipTrue = uint8(skip)
			} else {
				ji.SkipFalse = uint8(skip)
			}
			sb[f.at] = ji
		}
		block = append(block, sb...)
	}
	out = append(out, bpf.LoadAbsolute{Off: nrOff, Size: 4})
	if len(block) > 255 {
		return nil, fmt.Errorf("%s: %d instructions of conditions (at most 255)", name, len(block))
	}
	out = append(out, bpf.JumpIf{Cond: bpf.JumpEqual, Val: nr, SkipFalse: uint8(len(block))})
	return append(out, block...), nil
}
