// Package isolate runs runplug plugins in a process of their own, under a
// seccomp filter, behind the same API as plugins in the host's address
// space.
//
// # Use
//
// Set an Isolator as the Loader's isolation:
//
//	l := loader.New(loader.Options{Isolation: isolate.New(isolate.Options{})})
//	p, err := l.Load(ctx, "plugin.so") // a child process maps and links it
//	f, err := p.Func("add")
//	add, err := loader.Bind2[int64, int64, int64](f)
//	sum, err := add(ctx, 2, 3)         // a round trip through shared memory
//
// Plugin, Func, the typed bindings, host functions (RegisterHostFunc) and
// the errors are the loader's: a fault in the plugin is a
// *loader.FaultError naming the signal, the address and the symbol (the
// child's sandbox traps it and the report crosses back), a panic of a host
// function is a *loader.HostPanicError, a failed call quarantines the
// plugin unless loader.Options.KeepAfterFault. Every typed error of the
// child's loader (*loader.NotFoundError, *loader.UndefinedSymbolError,
// *elfmap.FormatError...) crosses by kind and fields and is rebuilt as the
// same type, so errors.Is and errors.As answer as in process; bytes the
// child writes that are not a well-formed error are ErrProtocol (the
// child is killed). A call whose context ends is a *loader.DeadlineError
// (loader.ErrDeadline; Pid names the child, killed to stop the call).
// What only an isolated plugin can do is die: a call whose child exits or
// is killed returns an *ExitError (ErrExited), one that makes a forbidden
// system call a *SyscallError naming it (ErrForbiddenSyscall). These and
// ErrProtocol, ErrNoNamespaces, ErrTooDeep, ErrBufferTooLarge and
// ErrPolicyTooSmall (a Memory or Threads too small to start the child,
// with the figure that would do) are the errors a host tests from this
// package. Plugin.Restart
// replaces the child (Funcs and bindings stay valid: they name symbols by
// handle, and the new child looks every one up again); a RestartPolicy
// does it on the next call automatically, with a backoff and a limit.
// Pointers to host memory do not cross: a []byte argument of a binding or
// of CallSig is copied in and back, and string arguments are copied in. Options.HostSymbols (host addresses) are
// refused.
//
// # What crosses
//
// Every call the loader makes in process crosses, through the same API:
// register calls (Func.Call, the typed bindings), function pointers
// (Plugin.FuncAt: the child makes a Func of the address), and general
// calls (Plugin.FuncSig and CallSig, typed bindings with structs by value
// both ways, more than 6 integer or 8 float arguments, BindVariadic,
// __int128, long double arguments, results in memory). The host plans a
// general call with the signature's own abi plan and runs its compiled
// moves in Go to lay out the frame (registers, stack words, al, the size
// of a result in memory) in the channel; the child calls from that frame
// with the in-process trampoline (internal/rawcall) and sends back
// rax, rdx, xmm0, xmm1 and the result's bytes. Go memory a call passes by
// address is copied into the channel: a string (to CallSig, or a string
// argument of a binding), and a []T or *T given to CallSig (T holding no
// Go pointers), copied back after the call. A uintptr or unsafe.Pointer
// crosses unchanged: it is an address in the child (one a call returned),
// never host memory; loader.Plugin's ReadMemory, WriteMemory and
// ReadString reach what such an address points to (a request on a free
// channel, served by another of the child's threads: a callback may use
// them while the call that passed it the pointer waits: nested in it,
// the request takes a channel beyond the pool, see Concurrency), and its
// Alloc, CString and Free run malloc and free in the child, so that the
// host's allocations and the plugin's are one heap. Every answer is
// checked before use: a read the child answers with more bytes than
// asked, or fewer with no NUL, and a symbol list whose count or lengths
// run past the channel, are ErrProtocol and the child is killed.
// Plugin.Symbols lists the child's exports a channel's worth per round
// trip. What of loader.Options crosses to the child is decided in one
// place (internal/wire's ChildOptions and HostOnly): HostSymbols and
// LoadOptions.Global are refused (loader.ErrUnsupported). A call whose
// stack arguments, buffers and result
// exceed the channel's data area (Options.BufferSize, less an eighth) is
// refused before it is sent (ErrBufferTooLarge). Refused: a long double
// result (the x87 st0 register; loader.ErrUnsupported, at bind time), and
// on arm64 a callback or host function with a struct passed by reference
// (when passed or called).
//
// A Callback (loader.NewCallback) passed to an isolated plugin, as its
// Ptr in a pointer argument or as the *loader.Callback itself to
// CallSig, reaches the plugin as an entry of the child's own (a
// loader.Callback there, made on the first call that passes it) whose
// calls come back to the host's Go function: nested in the call on its
// channel when the plugin calls it on the thread serving the call (a
// panic ends that call with the *loader.HostPanicError of the host's
// function, the plugin is quarantined, as in process). From any other
// thread of the child (one the plugin created), and likewise for host
// functions: on the channel of a call from the host that is running (the
// host, waiting for that call's reply, serves any host call arriving on
// its channel; the child's thread borrows the channel for the exchange
// and the serving thread writes its reply only after it); when no call
// runs, over the child's upcall channel, which the first callback takes
// out of the pool for good and a goroutine of the host serves; with
// neither (Options.Channels 1, or no callback yet), the thread waits for
// the host's next call. A panic there gives the plugin a zero result and
// goes to the Callback's panic handler and Err (a host function's to the
// log), as in process. Since the child serves from its init, Go cannot
// run on a thread the plugin created (cgo waits for package
// initialization to finish): childrt.RelayForeignThreads, started at the
// child's first request when the Loader has host functions, else with its
// first callback entry, relays those calls to Go threads of the child
// (four, and one more each time all are busy, up to 64): a host function called on
// such a thread may call the plugin, which may join a thread that calls
// back (that call borrows the channel of the running call). Over the
// upcall channel, when no call runs, such calls go one at a time.
// Release drops the child's entry (later calls through it fail
// with pcall.ErrCallbackFreed, as in process); closing or restarting the
// plugin drops them all. Callbacks of the general form (structs by value
// both ways, stack arguments, a result in memory) cross too: the child's
// entry copies the stack arguments into the part of the channel kept for
// host calls, the host runs the Go function on that copy, and a result in
// memory comes back into the caller's buffer. Host functions of the
// general form cross the same way (the child learns a function's form
// from the host on its first call, statusNeedFrame, and sends that call
// again with its stack arguments). Refused: a general-form callback with
// a string argument (when passed), and a general-form host function with
// one (each call fails): both errors wrap loader.ErrUnsupported.
//
// A host function or callback that calls Close or Restart of the plugin
// whose call is running it (on that goroutine: the upcall channel's
// server counts too) gets the error it gets in process, and the plugin stays open: waiting for that call would
// never end.
//
// # The child
//
// The child is the host's own executable (/proc/self/exe) started with
// RUNPLUG_ISOLATE_CHILD set: this package's init function sees it before
// main runs and serves the plugin, so any program that imports isolate
// (its tests too) is its own plugin host, with nothing else to ship. The
// child gets the channel (a memfd) as descriptor 3 (and a plugin with
// persistent state its state file as 4: docs/STATE.md), /dev/null as 0 and
// the write ends of two pipes as 1 and 2, which goroutines of the host
// copy to Options.Stdout and Stderr (the host's own by default) through a
// fixed buffer: a writer that blocks holds up only the plugin's writes,
// never a call's deadline or Close. It closes the memfd once mapped; it runs
// in its own process group, with PR_SET_PDEATHSIG (set from a spawner
// thread that never exits, since the signal follows the forking thread),
// in new user, network, mount, IPC, UTS and PID namespaces when the kernel
// permits them (Isolator.Report says what it got and why not; children
// whose policy allows no socket share one empty network namespace,
// "net-shared", made once by a spawner thread of its own when the host
// may make one, rather than each making one: docs/ARCHITECTURE.md, Confinement), with
// RLIMIT_AS, RLIMIT_CPU, RLIMIT_NOFILE and RLIMIT_CORE set, and
// no_new_privs. It installs the seccomp filter before it loads the plugin
// (so the plugin's constructors run confined): DefaultSyscalls plus
// Policy.Allow, read-only opens (to load the plugin and its libraries),
// clone only for threads, signals only to itself. A call the filter
// forbids goes to the host's seccomp listener (SECCOMP_RET_USER_NOTIF;
// listen.go): the host, which took the listener with pidfd_getfd before
// any plugin code ran, refuses the call, names it (with clone's flags,
// execve's or open's path) and kills the child, even when the calling
// thread blocks SIGSYS, as system() does. The calls the load needs and
// plugin code may not make (opens unless Policy.AllowOpen, memfd_create,
// the uid drop's) go to the listener too: the host lets them through
// until the child, before the first plugin code, announces its run phase
// with a marker call, and refuses and names them after (phase.go). Where
// there is no listener, a forbidden call traps (SECCOMP_RET_TRAP) and a
// second filter stacked at the switch forbids the load's calls: a SIGSYS
// handler written in assembly (sigsys_amd64.s, sigsys_arm64.s; no Go
// code can run at that point) writes si_syscall and si_call_addr to the shared memory and ends
// the process, and the host names the call from that record. The host
// assembles the filters (a spare child its own) with an assembler of its
// own (seccomp_asm.go) and the x32 and architecture checks, from rules in
// internal/seccomprule's types and call tables generated from
// github.com/elastic/go-seccomp-bpf's (zsyscalls_amd64.go,
// zsyscalls_arm64.go, go generate):
// no process links that library, whose initialisation built five
// architectures' tables at every start.
//
// With Options.Spare the Isolator keeps one child started ahead: its
// runtime is up, it is confined (limits, the load filter) and its serving
// threads wait, holding no plugin, on a futex for the request; a Load or Restart then only sends
// it, and the next spare starts once that load is done. Isolator.Close
// ends the spare.
//
// In a PID namespace of its own the plugin cannot name any process
// outside it (kill, pidfd_open and F_SETOWN find nothing, and /proc,
// mounted for the namespace, lists only it and its reaper). The child then
// runs as three processes, as a real init would run it: the one the host
// started (its pid is the one Pid, the errors and the log give, in the
// host's view), which waits for the plugin's process and ends exactly as
// it ended (the same exit code, or killed by the same signal); its two
// children, the namespace's init (pid 1), a reaper cloned with CLONE_VM
// (a thread's cost), and the plugin's process (pid 2, a fork), which
// alone runs the Go runtime and plugin code. The plugin's process is not the
// init because an init ignores its own signals (kill(getpid(), SIGKILL),
// a default-action raise, the Go runtime's re-raised crash signal) and
// would not report its true end. Neither waiter holds a descriptor, a
// capability or runs plugin code; killing the first ends the others.
//
// The host watches each child through a pidfd in the Go runtime's poller
// (no thread blocks per child), reaps it, and wakes the calls waiting on
// it. Close asks the child to run the destructors and exit (a quarantined
// plugin is killed instead) and returns once it is reaped: no child, no
// zombie outlives Close, and none outlives a host killed with SIGKILL.
//
// # Transport
//
// One memfd, mapped MAP_SHARED in both processes: a header, the load
// request and reply, then one channel per concurrent call. A channel is a
// page of header (two futex words on cache lines of their own, the
// registers, the result, a fault report) and a data area for buffers and
// strings, its last eighth kept for the strings of host calls. A call
// writes the registers in place (no serialisation), bumps the child's
// word and waits on its own. A waiting side (the host awaiting a call's
// result, the child a host function's, and the child's serving thread
// awaiting the next request after a call) spins on atomic loads for a
// bounded time (tens of µs; a raw sched_yield every few loads gives the
// CPU to the other process if it is queued for this one), then sleeps
// with FUTEX_WAIT. The host hands out the channel released last, so a
// goroutine calling in a loop finds the same serving thread still
// spinning; idle channels' threads sleep. The other side calls
// FUTEX_WAKE, a raw system call since it never blocks,
// only when the waiter said it sleeps (a flag beside the word). A host function the plugin calls comes back on the same channel
// as a message of its own; the waiting host goroutine runs it and answers,
// so a host function may call the plugin again (on another channel).
// The shared memory is hostile input: the host never reads back a layout
// field (where the reply, the channels and the buffers are, and their
// sizes, are its own), reads each field the child writes once and checks
// it (kinds, statuses, handles, lengths), copies a host call's strings
// and stack arguments out of the channel into a private mapping before
// any Go code sees them, and ends a call that gets a repeated or forged
// message with an error wrapping ErrProtocol that says what was wrong
// (docs/ISOLATION-channel.md has the rules and their tests).
//
// Concurrency: a pool of channels (Options.Channels, 4 by default), each
// served by a child thread of its own, rather than a child thread per host
// thread. Goroutines are not threads: a host with thousands of goroutines
// would need as many child threads, and Go moves goroutines between
// threads anyway; a fixed pool bounds the child's threads and memory,
// lets any goroutine use any free channel (the last released first), and a caller that finds none
// free waits for one, or for its context. A call nested in a host
// function or callback (from the calling thread or a plugin thread) never
// waits for the pool, whose channels the calls it is nested in may hold:
// it takes a channel beyond the pool (laid out in the memfd, whose pages
// cost nothing until used; the child starts its thread when the host
// first uses it), up to 64 in all (fewer with a BufferSize over 128 KiB),
// and past that fails with ErrTooDeep.
//
// # Platforms
//
// Linux on x86-64 and on AArch64 with cgo (the sandbox); elsewhere New
// gives an Isolator whose loads fail with an error wrapping
// loader.ErrUnsupported. One policy serves both: its names are x86-64's,
// mapped to AArch64's table where that lacks a legacy call or names one
// otherwise (seccomp.go archDiffs). On AArch64 the filters trap AArch32
// calls; there is no x32 or i386 ABI. The run-time tests need a native
// kernel: qemu-user, which runs the arm64 CI job, has neither seccomp nor
// user namespaces.
package isolate
