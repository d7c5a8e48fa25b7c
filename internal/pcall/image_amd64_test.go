package pcall

import "syscall"

// testFuncs are the functions every test image holds, in x86-64 machine
// code. Offsets of the faulting instruction within each function are given
// in faultOff.
var testFuncs = []testFunc{
	{"add", fixed(0x48, 0x8d, 0x04, 0x37, 0xc3)}, // lea rax,[rdi+rsi]; ret
	{"sum6", fixed( // rax = rdi+rsi+rdx+rcx+r8+r9
		0x48, 0x89, 0xf8, 0x48, 0x01, 0xf0, 0x48, 0x01, 0xd0,
		0x48, 0x01, 0xc8, 0x4c, 0x01, 0xc0, 0x4c, 0x01, 0xc8, 0xc3)},
	{"fsum8", fixed( // xmm0 = xmm0+...+xmm7
		0xf2, 0x0f, 0x58, 0xc1, 0xf2, 0x0f, 0x58, 0xc2, 0xf2, 0x0f, 0x58, 0xc3,
		0xf2, 0x0f, 0x58, 0xc4, 0xf2, 0x0f, 0x58, 0xc5, 0xf2, 0x0f, 0x58, 0xc6,
		0xf2, 0x0f, 0x58, 0xc7, 0xc3)},
	{"null_read", fixed(0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0, 0xc3)},                          // mov rax,[0]; ret
	{"trap", fixed(0x0f, 0x0b)},                                                             // ud2
	{"div_zero", fixed(0x31, 0xc9, 0xb8, 1, 0, 0, 0, 0x99, 0xf7, 0xf9, 0xc3)},               // xor ecx,ecx; mov eax,1; cdq; idiv ecx
	{"write_text", fixed(0x48, 0x8d, 0x05, 0xf9, 0xff, 0xff, 0xff, 0xc6, 0x00, 0x00, 0xc3)}, // lea rax,[rip-7]; mov byte [rax],0
	{"read_past_end", func(off, page uintptr) []byte { // mov al,[first byte after the data page]; ret
		return append(append([]byte{0x8a, 0x05}, le32(int32(2*page-(off+6)))...), 0xc3)
	}},
	{"read_rdi", fixed(0x8a, 0x07, 0xc3)},                     // mov al,[rdi]; ret
	{"recurse", fixed(0xe8, 0xfb, 0xff, 0xff, 0xff)},          // call self
	{"spin", fixed(0xeb, 0xfe)},                               // jmp self
	{"enter_spin", fixed(0xc7, 0x07, 1, 0, 0, 0, 0xeb, 0xfe)}, // mov dword [rdi],1; jmp self
	{"breakpoint", fixed(0xcc, 0xc3)},                         // int3; ret
	{"arg0", fixed(0x48, 0x89, 0xf8, 0xc3)},                   // mov rax,rdi; ret
	{"arg1", fixed(0x48, 0x89, 0xf0, 0xc3)},                   // mov rax,rsi; ret
	{"arg2", fixed(0x48, 0x89, 0xd0, 0xc3)},                   // mov rax,rdx; ret
	{"arg3", fixed(0x48, 0x89, 0xc8, 0xc3)},                   // mov rax,rcx; ret
	{"arg4", fixed(0x4c, 0x89, 0xc0, 0xc3)},                   // mov rax,r8; ret
	{"arg5", fixed(0x4c, 0x89, 0xc8, 0xc3)},                   // mov rax,r9; ret
	{"vector_count", fixed(0x0f, 0xb6, 0xc0, 0xc3)},           // movzx eax,al; ret
	{"flags_fault", fixed( // std; pushfq; or dword [rsp],0x40000 (AC); popfq; mov rax,[0]
		0xfd, 0x9c, 0x81, 0x0c, 0x24, 0x00, 0x00, 0x04, 0x00, 0x9d, 0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0, 0xc3)},
	{"read_flags", fixed(0x9c, 0x58, 0xc3)}, // pushfq; pop rax; ret
}

// faultOff is the offset of the instruction that faults (or, for int3,
// of the one after it, where the kernel reports the trap) in each test
// function.
var faultOff = map[string]uintptr{"null_read": 0, "div_zero": 8, "write_text": 7, "breakpoint": 1}

// archFaultCases are TestFaults' cases of faults only x86-64 has, or
// reports its own way.
func archFaultCases(m *testImage) []faultCase {
	return []faultCase{
		{name: "divide by zero", fn: m.fn("div_zero"), sig: syscall.SIGFPE, code: 1, addr: m.fn("div_zero") + 8,
			pc: m.fn("div_zero") + 8, where: "segment 0 (R-X) of faults.so", symbol: "div_zero+0x8", plugin: "faults.so"},
		{name: "non-canonical address", fn: m.fn("read_rdi"), arg0: 1 << 63, sig: syscall.SIGSEGV, code: siKernel, addr: 0,
			pc: m.fn("read_rdi"), where: "general protection fault (no address)", symbol: "read_rdi+0x0", plugin: "faults.so"},
		{name: "int3", fn: m.fn("breakpoint"), sig: syscall.SIGTRAP, code: siKernel, addr: 0,
			pc: m.fn("breakpoint") + 1, where: "breakpoint", symbol: "breakpoint+0x1", plugin: "faults.so"},
	}
}
