package ldso

import (
	"bufio"
	"os"
	"runtime"
	"strings"
	"sync"
)

// x86-64 ISA levels, as glibc's sysdeps/x86/get-isa-level.h defines them,
// by the /proc/cpuinfo flag names of the CPUID features each adds. The
// kernel lists avx, avx2 and the avx512 features only when the OS has
// enabled their register state (OSXSAVE), which the levels also require.
var isaLevels = []struct {
	dir   string
	flags []string
}{
	{"x86-64-v2", []string{"cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"}},
	{"x86-64-v3", []string{"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}},
	{"x86-64-v4", []string{"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}},
}

var (
	hwcapsOnce sync.Once
	hwcapsDirs []string
)

// HwcapsSubdirs returns the glibc-hwcaps subdirectories ld.so searches on
// this machine, highest priority first (["x86-64-v4", "x86-64-v3",
// "x86-64-v2"] on a CPU with AVX-512): the ISA levels the CPU supports,
// read once from /proc/cpuinfo. It is empty outside linux/amd64 or when
// /proc/cpuinfo cannot be read.
func HwcapsSubdirs() []string {
	hwcapsOnce.Do(func() {
		if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
			return
		}
		f, err := os.Open("/proc/cpuinfo")
		if err != nil {
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "flags") {
				if i := strings.IndexByte(line, ':'); i >= 0 {
					hwcapsDirs = hwcapsFromFlags(strings.Fields(line[i+1:]))
				}
				return
			}
		}
	})
	return append([]string(nil), hwcapsDirs...)
}

// hwcapsFromFlags returns the glibc-hwcaps subdirectories a CPU with the
// given /proc/cpuinfo flags supports, highest priority first.
func hwcapsFromFlags(flags []string) []string {
	have := make(map[string]bool, len(flags))
	for _, f := range flags {
		have[f] = true
	}
	var out []string
	for _, l := range isaLevels {
		for _, f := range l.flags {
			if !have[f] {
				return out
			}
		}
		out = append([]string{l.dir}, out...)
	}
	return out
}
