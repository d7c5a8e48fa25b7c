package pcall

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// FaultError reports a signal raised by native code during a protected
// call. Its fields carry the evidence; Error formats it on one line.
type FaultError struct {
	Signal syscall.Signal // SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT or SIGTRAP (int3)
	Code   int32          // si_code
	Addr   uintptr        // si_addr: the faulting address (0 for SIGABRT)
	PC     uintptr        // RIP at the fault
	Plugin string         // name of the registered region containing PC ("" if none)
	Symbol string         // nearest symbol to PC as "name+0x1f" ("" if unknown)
	Object string         // host object containing PC when no region does (dladdr), else ""
	// Where says what Addr is: "segment 2 (RW-) of libfoo.so",
	// "guard page before libfoo.so", "guard page after libfoo.so",
	// "unloaded plugin libfoo.so" (from the region's Describer),
	// "stack overflow", "not mapped" or "mapped, not a plugin"; "" for
	// SIGABRT, "breakpoint" for an int3 (SIGTRAP, SI_KERNEL).
	Where string
}

// Error formats e as, for example,
// "SIGSEGV (SEGV_MAPERR) at 0x0: not mapped; pc 0x7f12: crash_null+0x4 in faults.so".
func (e *FaultError) Error() string {
	s := fmt.Sprintf("%s (%s)", SignalName(e.Signal), CodeName(e.Signal, e.Code))
	if e.Signal == syscall.SIGABRT {
		s += ": abort"
	} else {
		s += fmt.Sprintf(" at %#x: %s", e.Addr, e.Where)
	}
	s += fmt.Sprintf("; pc %#x", e.PC)
	if e.Symbol != "" {
		s += ": " + e.Symbol
	}
	switch {
	case e.Plugin != "":
		s += " in " + e.Plugin
	case e.Object != "":
		s += " in " + filepath.Base(e.Object)
	}
	return s
}

// newFaultError describes a trapped signal (fault path: allocation and a
// system call are fine here).
// nearSP says whether addr was within 64 KiB below the faulting stack
// pointer (or in the page above it): a frame being pushed, or a large frame
// touched after its "sub rsp".
func newFaultError(signo int, code int32, addr, pc uintptr, nearSP bool) *FaultError {
	e := &FaultError{Signal: syscall.Signal(signo), Code: code, Addr: addr, PC: pc}
	e.Plugin, e.Symbol, e.Object = symbolize(pc)
	e.Where = where(e, nearSP)
	return e
}

// symbolize names pc from the registration table, or else from the host's
// dynamic symbols.
func symbolize(pc uintptr) (plugin, symbol, object string) {
	if r := lookup(pc); r != nil {
		d := r.describer()
		plugin = d.Name()
		if name, off, ok := d.SymbolAt(pc); ok {
			symbol = symbolPlus(name, off)
		}
		return plugin, symbol, ""
	}
	symbol, object = hostSymbol(pc)
	return "", symbol, object
}

// symbolPlus formats "name+0x1f" with one allocation, the string's own.
func symbolPlus(name string, off uintptr) string {
	var buf [80]byte
	b := append(buf[:0], name...)
	b = append(b, "+0x"...)
	return string(strconv.AppendUint(b, uint64(off), 16))
}

func where(e *FaultError, nearSP bool) string {
	switch {
	case e.Signal == syscall.SIGABRT:
		return ""
	case e.Signal == syscall.SIGTRAP && e.Code == siKernel:
		return "breakpoint"
	case e.Code == siKernel:
		// A general-protection fault (e.g. a non-canonical address):
		// the kernel reports no address.
		return "general protection fault (no address)"
	}
	if r := lookup(e.Addr); r != nil {
		return r.describer().DescribeAddr(e.Addr)
	}
	if e.Signal == syscall.SIGSEGV && nearSP {
		return "stack overflow"
	}
	// The kernel's si_code already says whether a mapping covers Addr
	// (docs/ASSUMPTIONS.md); only other signals (SIGBUS) ask mincore.
	switch {
	case e.Signal == syscall.SIGSEGV && e.Code == segvMaperr:
		return "not mapped"
	case e.Signal == syscall.SIGSEGV && e.Code == segvAccerr:
		return "mapped, not a plugin"
	}
	if !mapped(e.Addr) {
		return "not mapped"
	}
	return "mapped, not a plugin"
}

// mapped reports whether the page holding addr is mapped (with any
// protection): mincore fails with ENOMEM for unmapped memory.
func mapped(addr uintptr) bool {
	page := uintptr(os.Getpagesize())
	var vec [1]byte
	_, _, errno := syscall.Syscall(syscall.SYS_MINCORE, addr&^(page-1), page, uintptr(unsafe.Pointer(&vec[0])))
	return errno != syscall.ENOMEM
}

const (
	siKernel   = 0x80
	siTkill    = -6
	segvMaperr = 1 // SEGV_MAPERR: no mapping at the address
	segvAccerr = 2 // SEGV_ACCERR: a mapping without the access
)

// SignalName returns the C name of a signal ("SIGSEGV"), from
// unix.SignalName, and "SIGRTMAX-3" for InterruptSignal.
func SignalName(s syscall.Signal) string {
	if s == InterruptSignal {
		return "SIGRTMAX-3"
	}
	if n := unix.SignalName(s); n != "" {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}

// The si_code names of each signal, by code: static data, nothing built
// at init.
var (
	segvCodes = [...]string{1: "SEGV_MAPERR", "SEGV_ACCERR", "SEGV_BNDERR", "SEGV_PKUERR", "SEGV_ACCADI", "SEGV_ADIDERR", "SEGV_ADIPERR", "SEGV_MTEAERR", "SEGV_MTESERR", "SEGV_CPERR"}
	busCodes  = [...]string{1: "BUS_ADRALN", "BUS_ADRERR", "BUS_OBJERR", "BUS_MCEERR_AR", "BUS_MCEERR_AO"}
	fpeCodes  = [...]string{1: "FPE_INTDIV", "FPE_INTOVF", "FPE_FLTDIV", "FPE_FLTOVF", "FPE_FLTUND", "FPE_FLTRES", "FPE_FLTINV", "FPE_FLTSUB", "FPE_FLTUNK", "FPE_CONDTRAP"}
	trapCodes = [...]string{1: "TRAP_BRKPT", "TRAP_TRACE", "TRAP_BRANCH", "TRAP_HWBKPT", "TRAP_UNK", "TRAP_PERF"}
	illCodes  = [...]string{1: "ILL_ILLOPC", "ILL_ILLOPN", "ILL_ILLADR", "ILL_ILLTRP", "ILL_PRVOPC", "ILL_PRVREG", "ILL_COPROC", "ILL_BADSTK", "ILL_BADIADDR"}
)

// codeNames returns the si_code names of signal s, by code.
func codeNames(s syscall.Signal) []string {
	switch s {
	case syscall.SIGSEGV:
		return segvCodes[:]
	case syscall.SIGBUS:
		return busCodes[:]
	case syscall.SIGFPE:
		return fpeCodes[:]
	case syscall.SIGTRAP:
		return trapCodes[:]
	case syscall.SIGILL:
		return illCodes[:]
	}
	return nil
}

// CodeName returns the C name of a signal's si_code ("SEGV_MAPERR",
// "SI_TKILL"), or the number when it has none.
func CodeName(s syscall.Signal, code int32) string {
	switch code {
	case 0:
		return "SI_USER"
	case siKernel:
		return "SI_KERNEL"
	case -1:
		return "SI_QUEUE"
	case -2:
		return "SI_TIMER"
	case -3:
		return "SI_MESGQ"
	case -4:
		return "SI_ASYNCIO"
	case -5:
		return "SI_SIGIO"
	case siTkill:
		return "SI_TKILL"
	}
	if names := codeNames(s); code > 0 && int(code) < len(names) && names[code] != "" {
		return names[code]
	}
	return fmt.Sprintf("code %d", code)
}
