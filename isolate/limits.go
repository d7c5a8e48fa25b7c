//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/childrt"
)

const (
	// loadRoom is the address space a load needs beyond what the child's
	// runtime holds when it confines itself: the plugin's images, their
	// guards, and the runtime's growth meanwhile.
	loadRoom = 256 << 20
	// needSlack is added to the figure a too-small Memory's error asks
	// for: another child's runtime may hold a few more threads when it
	// confines itself (8 MiB of stack each; two children of the same
	// host differ by 8 to 24 MiB), and the figure must still do for it.
	needSlack = 64 << 20
)

// applyLimits sets the child's resource limits: address space (and, as
// large, the biggest file it may write: a memfd or tmpfs file counts
// against Memory), threads, CPU time, no core file, 64 descriptors.
func applyLimits(pol Policy) error {
	mem := memoryLimit(pol)
	// Refused below half the room a load needs; the figure asked for is
	// the whole room and needSlack, so that it still does when the
	// runtime holds a little more in the next child.
	if used, ok := addressSpace(); ok && mem < used+loadRoom/2 {
		return fmt.Errorf("Policy.Memory of %d MiB is too small: the child's runtime holds %d MiB of address space before the load; at least %d MiB are needed: %w",
			mem>>20, used>>20, (used+loadRoom+needSlack+(1<<20)-1)>>20, ErrPolicyTooSmall)
	}
	if err := unix.Setrlimit(unix.RLIMIT_AS, &unix.Rlimit{Cur: mem, Max: mem}); err != nil {
		return fmt.Errorf("RLIMIT_AS: %w", err)
	}
	// A write past the limit fails with EFBIG instead of killing the
	// child with SIGXFSZ.
	signal.Ignore(syscall.SIGXFSZ)
	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: mem, Max: mem}); err != nil {
		return fmt.Errorf("RLIMIT_FSIZE: %w", err)
	}
	if threadsCounted() {
		n := uint64(pol.Threads)
		if n == 0 {
			n = DefaultThreads
		}
		if err := unix.Setrlimit(unix.RLIMIT_NPROC, &unix.Rlimit{Cur: n, Max: n}); err != nil {
			return fmt.Errorf("RLIMIT_NPROC: %w", err)
		}
	}
	if lim := cpuTime(pol); lim > 0 {
		s := uint64((lim + time.Second - 1) / time.Second)
		if err := unix.Setrlimit(unix.RLIMIT_CPU, &unix.Rlimit{Cur: s, Max: s}); err != nil {
			return fmt.Errorf("RLIMIT_CPU: %w", err)
		}
	}
	unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: 64, Max: 64})
	return nil
}

// threadsCounted says whether RLIMIT_NPROC would count this child's
// threads alone: a root host's child (it drops to a uid of its own,
// confine_uid.go), or one in a user namespace of its own (the kernel
// counts a uid's processes per user namespace). A child of an
// unprivileged host without a user namespace shares the host's uid, whose
// count holds every process of that user: no limit is set there, and
// the Report says so.
func threadsCounted() bool {
	flags, _ := childrt.EarlyNamespaces()
	return os.Getuid() == 0 || flags&unix.CLONE_NEWUSER != 0
}

// addressSpace returns the process's address space size (/proc/self/statm,
// read while opens are still allowed).
func addressSpace() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, false
	}
	pages, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * uint64(os.Getpagesize()), true
}

// memoryLimit is the child's memory figure for pol.
func memoryLimit(pol Policy) uint64 {
	if pol.Memory == 0 {
		return DefaultMemory
	}
	return pol.Memory
}

// runtimeThreads is what the child's Go runtime holds besides one thread
// per channel and per P: its main thread, sysmon, the template thread
// and one spare M (8 threads in all with 4 channels and GOMAXPROCS 2,
// measured on the plugin's process before its first plugin code).
const runtimeThreads = 4

// minThreads is the least Policy.Threads a child of opts starts with:
// its runtime's threads, one per P (the child gets the host's
// GOMAXPROCS), one per channel and the reserve (threadReserve). Below it the runtime fails to make a
// thread it needs and the child dies (exit status 2) at a moment no
// error can name.
// A child with host functions also starts the relays' first threads
// (childrt.RelayForeignThreads).
func minThreads(opts Options, hostFuncs bool) int {
	n := runtimeThreads + runtime.GOMAXPROCS(0) + opts.Channels + threadReserve()
	if hostFuncs {
		n += relayThreads
	}
	return n
}

// relayThreads are the relay's threads a child with host functions
// starts with (more start as they are busy).
const relayThreads = 4

// checkLimits refuses a Policy too small to start a child of opts,
// saying the figure that would do. (Memory is checked by the child,
// which knows what its runtime holds: applyLimits.)
func checkLimits(opts Options, hostFuncs bool) error {
	if n, need := opts.Policy.Threads, minThreads(opts, hostFuncs); n > 0 && n < need {
		return fmt.Errorf("isolate: Policy.Threads of %d is too small: the child's runtime, its %d channels and relays need %d threads before the plugin's own; at least %d are needed: %w",
			n, opts.Channels, need, need, ErrPolicyTooSmall)
	}
	return nil
}
