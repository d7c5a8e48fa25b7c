package runplug_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runplug/runplug/internal/baseline"
	"github.com/runplug/runplug/loader"
)

// firstLoadEnv, when set to "runplug|dlopen:path:symbol", makes
// TestFirstLoadChild the child process of BenchmarkFirstLoad.
const firstLoadEnv = "RUNPLUG_FIRSTLOAD_CHILD"

// firstLoadTargets are the real libraries of BenchmarkFirstLoad, each with
// one symbol looked up.
var firstLoadTargets = []struct{ name, file, sym string }{
	{"libLLVM-15", "libLLVM-15.so.1", "LLVMIsMultithreaded"},
	{"libcrypto", "libcrypto.so.3", "OPENSSL_version_major"},
	{"libsqlite3", "libsqlite3.so.0", "sqlite3_libversion"},
}

// BenchmarkFirstLoad measures the first load of a real library in a fresh
// process, the load every user meets first: per iteration this test binary
// runs itself twice, once to time loader.New + Load + Lookup and once to
// time glibc's dlopen (RTLD_NOW) + dlsym on the same file, alternating
// which goes first. Each child times only its own load, so the process
// start is not in the figures. It reports the medians of both and the
// median of the pairs' ratios (runplug/dlopen), in wall time and in CPU
// time (the process's, every thread's, from getrusage): on a loaded
// machine the wall time also measures waits for a CPU, the CPU time only
// the work. It also reports the median page faults each load took (a
// fault costs microseconds on a VM; dlopen's are the floor).
//
//	go test -run '^$' -bench FirstLoad -benchtime 20x .
func BenchmarkFirstLoad(b *testing.B) {
	for _, tc := range firstLoadTargets {
		b.Run(tc.name, func(b *testing.B) {
			path := benchSystemLib(b, tc.file)
			var rp, dl, ratios, cpuRatios []time.Duration
			var rpFaults, dlFaults []int64
			for i := 0; i < b.N; i++ {
				order := []string{"runplug", "dlopen"}
				if i%2 == 1 {
					order[0], order[1] = order[1], order[0]
				}
				var pair, cpu [2]time.Duration
				for _, mode := range order {
					d, c, f := firstLoadChild(b, mode, path, tc.sym)
					if mode == "runplug" {
						rp, pair[0], cpu[0] = append(rp, d), d, c
						rpFaults = append(rpFaults, f)
					} else {
						dl, pair[1], cpu[1] = append(dl, d), d, c
						dlFaults = append(dlFaults, f)
					}
				}
				// The pair's ratio, in thousandths: pairing keeps it
				// meaningful when the machine's speed drifts.
				ratios = append(ratios, pair[0]*1000/max(pair[1], 1))
				cpuRatios = append(cpuRatios, cpu[0]*1000/max(cpu[1], 1))
			}
			b.ReportMetric(float64(median(rp).Nanoseconds()), "runplug-ns")
			b.ReportMetric(float64(median(dl).Nanoseconds()), "dlopen-ns")
			b.ReportMetric(float64(median(ratios))/1000, "ratio")
			b.ReportMetric(float64(median(cpuRatios))/1000, "cpu-ratio")
			b.ReportMetric(float64(median(rpFaults)), "runplug-faults")
			b.ReportMetric(float64(median(dlFaults)), "dlopen-faults")
		})
	}
}

// firstLoadChild runs one child of BenchmarkFirstLoad and returns the wall
// and CPU times it reported.
func firstLoadChild(b *testing.B, mode, path, sym string) (wall, cpu time.Duration, faults int64) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFirstLoadChild$")
	cmd.Env = append(os.Environ(), firstLoadEnv+"="+mode+":"+path+":"+sym)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("%s child: %v\n%s", mode, err, stderr.Bytes())
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "firstload-ns "); ok {
			f := strings.Fields(v)
			if len(f) != 3 {
				b.Fatalf("%s child: %q: want three figures", mode, line)
			}
			wns, err1 := strconv.ParseInt(f[0], 10, 64)
			cns, err2 := strconv.ParseInt(f[1], 10, 64)
			n, err3 := strconv.ParseInt(f[2], 10, 64)
			if err := errors.Join(err1, err2, err3); err != nil {
				b.Fatalf("%s child: %q: %v", mode, line, err)
			}
			return time.Duration(wns), time.Duration(cns), n
		}
	}
	b.Fatalf("%s child printed no time:\n%s\n%s", mode, out, stderr.Bytes())
	return 0, 0, 0
}

// processCPU returns the CPU time every thread of the process has used,
// and the page faults it has taken (minor and major).
func processCPU(t *testing.T) (time.Duration, int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Minflt + ru.Majflt
}

func median[T cmp.Ordered](ds []T) T {
	s := append([]T(nil), ds...)
	for i := 1; i < len(s); i++ { // insertion sort: a handful of samples
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[len(s)/2]
}

// firstLoadWarmEnv, when set to a library's path, makes TestFirstLoadChild
// load that library with a Loader of its own before the timed load: the
// timed load then pays only what is its own, not what the first load in a
// process pays once (the same path: a second load of the same file). The
// benchmark does not set it; docs/FIRSTLOAD.md (branch sqlite2) uses it to
// split the first load's cost.
const firstLoadWarmEnv = "RUNPLUG_FIRSTLOAD_WARM"

// TestFirstLoadChild is BenchmarkFirstLoad's child process; without its
// environment variable it does nothing.
func TestFirstLoadChild(t *testing.T) {
	spec := os.Getenv(firstLoadEnv)
	if spec == "" {
		t.Skip("only BenchmarkFirstLoad's child process")
	}
	mode, rest, _ := strings.Cut(spec, ":")
	path, sym, _ := strings.Cut(rest, ":")
	var d time.Duration
	if warm := os.Getenv(firstLoadWarmEnv); warm != "" && mode == "runplug" {
		if _, err := loader.New(loader.Options{}).Load(context.Background(), warm); err != nil {
			t.Fatalf("%s: %v", firstLoadWarmEnv, err)
		}
	}
	cpu0, faults0 := processCPU(t)
	switch mode {
	case "runplug":
		start := time.Now()
		l := loader.New(loader.Options{})
		p, err := l.Load(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Lookup(sym); err != nil {
			t.Fatal(err)
		}
		d = time.Since(start)
	case "dlopen":
		if baseline.IsLoaded(path) {
			t.Fatalf("%s is already loaded in this process", path)
		}
		start := time.Now()
		h, err := baseline.DlopenNow(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.Dlsym(sym); err != nil {
			t.Fatal(err)
		}
		d = time.Since(start)
	default:
		t.Fatalf("%s=%q: unknown mode %q", firstLoadEnv, spec, mode)
	}
	cpu, faults := processCPU(t)
	fmt.Printf("firstload-ns %d %d %d\n", d.Nanoseconds(), (cpu - cpu0).Nanoseconds(), faults-faults0)
}
