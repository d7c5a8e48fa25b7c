package pcall

import (
	"encoding/binary"
	"syscall"
)

// words encodes AArch64 instructions.
func words(ws ...uint32) func(off, page uintptr) []byte {
	return func(uintptr, uintptr) []byte {
		b := make([]byte, 0, 4*len(ws))
		for _, w := range ws {
			b = binary.LittleEndian.AppendUint32(b, w)
		}
		return b
	}
}

// testFuncs are the functions every test image holds, in AArch64 machine
// code (assembled by aarch64-linux-gnu-as), with the names and behaviour of
// image_amd64_test.go's. div_zero and vector_count have no AArch64
// counterpart (integer division by zero does not trap; there is no
// vector-count register) and are left out.
var testFuncs = []testFunc{
	{"add", words(0x8b010000, 0xd65f03c0)}, // add x0,x0,x1; ret
	{"sum6", words(0x8b010000, 0x8b020000, 0x8b030000, 0x8b040000, 0x8b050000, 0xd65f03c0)},
	{"fsum8", words(0x1e612800, 0x1e622800, 0x1e632800, 0x1e642800, 0x1e652800, 0x1e662800, 0x1e672800, 0xd65f03c0)},
	{"null_read", words(0xd2800009, 0xf9400120, 0xd65f03c0)},  // mov x9,#0; ldr x0,[x9]; ret
	{"trap", words(0x00000000)},                               // udf #0
	{"write_text", words(0x10000009, 0x3900013f, 0xd65f03c0)}, // adr x9,self; strb wzr,[x9]; ret
	{"read_past_end", func(off, page uintptr) []byte { // ldr w0,[first word after the data page]; ret
		imm19 := uint32((2*page-off)/4) & (1<<19 - 1)
		return words(0x18000000|imm19<<5, 0xd65f03c0)(off, page)
	}},
	{"read_rdi", words(0x39400000, 0xd65f03c0)},               // ldrb w0,[x0]; ret
	{"recurse", words(0xa9bf7bfd, 0x97ffffff)},                // stp x29,x30,[sp,#-16]!; bl self
	{"spin", words(0x14000000)},                               // b self
	{"enter_spin", words(0x52800029, 0xb9000009, 0x14000000)}, // mov w9,#1; str w9,[x0]; b self
	{"breakpoint", words(0xd4200000, 0xd65f03c0)},             // brk #0; ret
	{"arg0", words(0xd65f03c0)},                               // ret
	{"arg1", words(0xaa0103e0, 0xd65f03c0)},                   // mov x0,x1; ret
	{"arg2", words(0xaa0203e0, 0xd65f03c0)},                   // mov x0,x2; ret
	{"arg3", words(0xaa0303e0, 0xd65f03c0)},                   // mov x0,x3; ret
	{"arg4", words(0xaa0403e0, 0xd65f03c0)},                   // mov x0,x4; ret
	{"arg5", words(0xaa0503e0, 0xd65f03c0)},                   // mov x0,x5; ret
}

// faultOff is the offset of the instruction that faults (or traps) in
// each test function.
var faultOff = map[string]uintptr{"null_read": 4, "write_text": 4, "breakpoint": 0}

// archFaultCases are TestFaults' cases of faults AArch64 reports its own
// way: brk raises SIGTRAP with TRAP_BRKPT and si_addr at the brk itself,
// so the error names the segment (x86-64's int3 reports no address).
func archFaultCases(m *testImage) []faultCase {
	return []faultCase{
		{name: "brk", fn: m.fn("breakpoint"), sig: syscall.SIGTRAP, code: 1, addr: m.fn("breakpoint"),
			pc: m.fn("breakpoint"), where: "segment 0 (R-X) of faults.so", symbol: "breakpoint+0x0", plugin: "faults.so"},
	}
}
