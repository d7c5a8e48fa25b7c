package ldso

import (
	"runtime"

	"golang.org/x/sys/cpu"
)

// isaFeatures are the CPU features that glibc's x86-64 ISA levels
// (sysdeps/x86/get-isa-level.h) test, each true when the CPU has it and,
// for the AVX family, the OS has enabled its register state (CPUID's
// OSXSAVE and XCR0, which golang.org/x/sys/cpu checks as glibc does). The
// baseline level's features (CMOV, CX8, FPU, FXSR, MMX, SSE, SSE2) are
// part of x86-64 itself.
type isaFeatures struct {
	// x86-64-v2
	CX16, LAHF, POPCNT, SSE3, SSSE3, SSE41, SSE42 bool
	// x86-64-v3 (FMA and F16C count only with AVX usable, as in glibc)
	AVX, AVX2, BMI1, BMI2, F16C, FMA, LZCNT, MOVBE bool
	// x86-64-v4
	AVX512F, AVX512BW, AVX512CD, AVX512DQ, AVX512VL bool
}

// cpuFeatures reads the features from CPUID (golang.org/x/sys/cpu), as
// ld.so does: /proc/cpuinfo's flags are the kernel's view, which can lack
// a bit the CPU reports (abm, on some hypervisors).
func cpuFeatures() isaFeatures {
	x := &cpu.X86
	return isaFeatures{
		CX16: x.HasCX16, LAHF: x.HasLAHF, POPCNT: x.HasPOPCNT, SSE3: x.HasSSE3,
		SSSE3: x.HasSSSE3, SSE41: x.HasSSE41, SSE42: x.HasSSE42,
		AVX: x.HasAVX, AVX2: x.HasAVX2, BMI1: x.HasBMI1, BMI2: x.HasBMI2,
		F16C: x.HasF16C, FMA: x.HasFMA, LZCNT: x.HasLZCNT, MOVBE: x.HasMOVBE,
		AVX512F: x.HasAVX512F, AVX512BW: x.HasAVX512BW, AVX512CD: x.HasAVX512CD,
		AVX512DQ: x.HasAVX512DQ, AVX512VL: x.HasAVX512VL,
	}
}

// HwcapsSubdirs returns the glibc-hwcaps subdirectories ld.so searches on
// this machine, highest priority first (["x86-64-v4", "x86-64-v3",
// "x86-64-v2"] on a CPU with AVX-512): the ISA levels the CPU supports,
// from CPUID as glibc computes them. It is empty outside linux/amd64.
// (GLIBC_TUNABLES=glibc.cpu.hwcaps can mask features from ld.so; runplug
// does not read it.)
func HwcapsSubdirs() []string {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return nil
	}
	return hwcapsFor(cpuFeatures())
}

// hwcapsFor returns the glibc-hwcaps subdirectories of the ISA levels a
// CPU with features f supports, highest priority first: each level needs
// every feature of the levels below it.
func hwcapsFor(f isaFeatures) []string {
	v2 := f.CX16 && f.LAHF && f.POPCNT && f.SSE3 && f.SSSE3 && f.SSE41 && f.SSE42
	v3 := v2 && f.AVX && f.AVX2 && f.BMI1 && f.BMI2 && f.F16C && f.FMA && f.LZCNT && f.MOVBE
	v4 := v3 && f.AVX512F && f.AVX512BW && f.AVX512CD && f.AVX512DQ && f.AVX512VL
	switch {
	case v4:
		return []string{"x86-64-v4", "x86-64-v3", "x86-64-v2"}
	case v3:
		return []string{"x86-64-v3", "x86-64-v2"}
	case v2:
		return []string{"x86-64-v2"}
	}
	return nil
}
