//go:build linux && (amd64 || arm64)

package tlsrt

// Static TLS: room for a module in every thread's static TLS block, at one
// offset from the thread pointer, for objects whose code uses the
// initial-exec model (R_X86_64_TPOFF64: `mov %fs:OFF, ...` with OFF read
// from the GOT; R_AARCH64_TLS_TPREL64: `mrs x0, tpidr_el0` plus OFF; no
// call, nothing runplug can intercept).
//
// Only glibc can give such room: it lays out each thread's static TLS
// block when it creates the thread, keeps a surplus in every block for
// objects dlopen'd later (the glibc.rtld.optional_static_tls tunable and a
// fixed part for libc's own IE users), and when it dlopens an object that
// needs static TLS it carves the block from that surplus
// (_dl_try_allocate_static_tls), copies the template into every existing
// thread (_dl_init_static_tls walks its lists of threads) and into every
// thread it creates afterwards (_dl_allocate_tls_init). So runplug asks
// glibc's dlopen for it, through an object it writes: a stand-in
// (statictls_elf.go) whose only content is a PT_TLS with the module's
// size, alignment and relocated template, and one TPOFF64 relocation that
// makes glibc allocate the room and tells runplug where it is. The
// stand-in is written to a memfd and opened as /proc/self/fd/N (the fd
// stays open while the stand-in is loaded, so the name is never reused
// for another object); dlclose at Free gives the room back when it is the
// last glibc carved, and a stand-in freed before a later one is dlclosed
// when that one is (staticHeld). What this assumes of glibc is in docs/ASSUMPTIONS.md,
// each with its test.

/*
#include <stdlib.h>
#include "tls.h"
*/
import "C"

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// staticHeld counts the static TLS runplug's live stand-ins hold, and
// keeps every stand-in loaded in the order glibc carved them: glibc takes
// a block back only when it is the last one carved, so a stand-in freed
// while a later one is live stays loaded (pending) until every later one
// is freed, and is dlclosed then, when glibc can take it back.
var staticHeld struct {
	sync.Mutex
	bytes   uint64 // of live modules
	modules int
	pending uint64         // bytes of freed stand-ins still loaded
	stack   []*staticBlock // loaded stand-ins, oldest first
}

// staticBlock is one stand-in loaded by glibc.
type staticBlock struct {
	handle unsafe.Pointer
	fd     int
	tpoff  int64
	size   uint64
	freed  bool // by its module; dlclosed once no later stand-in is loaded
}

// MakeStatic moves the module to static TLS: from now on its block is at
// the same offset from the thread pointer in every thread (StaticOffset),
// initialised from the template in every thread that exists and every
// thread created later, and TLSGetAddr returns addresses in it. The
// template is read now, so the image must be relocated. It must come
// before any code uses the module (the loader calls it between relocation
// and the constructors). It wraps ErrStaticTLSFull when glibc has no room.
// Its errors have no "sandbox:" prefix (the loader adds its own).
func (m *TLSModule) MakeStatic() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.static != nil {
		return nil
	}
	if m.freed {
		return fmt.Errorf("static TLS of module %d: freed", m.id)
	}
	var template []byte
	if m.filesz > 0 {
		template = unsafe.Slice((*byte)(unsafe.Add(nil, m.image)), m.filesz)
	}
	b, err := newStaticBlock(template, m.memsz, m.align)
	if err != nil {
		return err
	}
	if C.rp_tls_set_static(C.uint64_t(m.id), C.int64_t(b.tpoff)) != 0 {
		b.free()
		return fmt.Errorf("static TLS of module %d: not a live dynamic module", m.id)
	}
	m.static = b
	return nil
}

// StaticOffset returns the module's block offset from the thread pointer
// (negative on x86-64, where static TLS lies below it; positive on
// AArch64, where it lies above the TCB) and whether the module is static.
func (m *TLSModule) StaticOffset() (int64, bool) { return TLSStaticOffset(m.id) }

// newStaticBlock has glibc carve a block of memsz bytes aligned to align
// from its static TLS surplus, initialised with template in every thread.
func newStaticBlock(template []byte, memsz, align uint64) (*staticBlock, error) {
	if align == 0 {
		align = 1
	}
	// A block of 0 bytes is no TLS at all to glibc: ask for 1.
	img, err := staticTLSObject(template, max(memsz, 1), align)
	if err != nil {
		return nil, fmt.Errorf("static TLS block of %d bytes aligned to %d: %w", memsz, align, err)
	}
	fd, err := unix.MemfdCreate("runplug-static-tls", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("static TLS: memfd_create: %w", err)
	}
	for off := 0; off < len(img); {
		n, err := unix.Pwrite(fd, img[off:], int64(off))
		if err == nil && n == 0 {
			err = unix.EIO
		}
		if err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("static TLS: write stand-in: %w", err)
		}
		off += n
	}
	path := C.CString(fmt.Sprintf("/proc/self/fd/%d", fd))
	defer C.free(unsafe.Pointer(path))
	bsym, ssym := C.CString(staticTLSBlockSym), C.CString(staticTLSSlotSym)
	defer C.free(unsafe.Pointer(bsym))
	defer C.free(unsafe.Pointer(ssym))
	var r C.struct_rp_static_tls
	staticHeld.Lock()
	defer staticHeld.Unlock()
	C.rp_static_tls_open(path, bsym, ssym, &r)
	if r.handle == nil {
		unix.Close(fd)
		msg := C.GoString(&r.err[0])
		if strings.Contains(msg, "static TLS") {
			return nil, &StaticTLSError{Size: memsz, Align: align, Held: staticHeld.bytes, Modules: staticHeld.modules,
				Pending: staticHeld.pending, Tunables: os.Getenv("GLIBC_TUNABLES"), Glibc: msg}
		}
		return nil, fmt.Errorf("static TLS block of %d bytes aligned to %d: %s", memsz, align, msg)
	}
	staticHeld.bytes += memsz
	staticHeld.modules++
	b := &staticBlock{handle: r.handle, fd: fd, tpoff: int64(r.tpoff), size: memsz}
	staticHeld.stack = append(staticHeld.stack, b)
	return b, nil
}

// free gives the block back: it dlcloses the stand-in, and every freed one
// carved before it that this leaves last, newest first, so that glibc
// takes each back (it does only for the last block carved: see
// docs/ASSUMPTIONS.md). A stand-in carved before a live one stays loaded
// until that one is freed.
func (b *staticBlock) free() {
	staticHeld.Lock()
	defer staticHeld.Unlock()
	b.freed = true
	staticHeld.bytes -= b.size
	staticHeld.modules--
	staticHeld.pending += b.size
	st := staticHeld.stack
	for len(st) > 0 && st[len(st)-1].freed {
		t := st[len(st)-1]
		st[len(st)-1] = nil
		st = st[:len(st)-1]
		C.rp_static_tls_close(t.handle)
		unix.Close(t.fd)
		staticHeld.pending -= t.size
	}
	staticHeld.stack = st
}

// offsetHere returns the block's offset from the calling thread's thread
// pointer as glibc's dlsym sees it (a test fixture).
func (b *staticBlock) offsetHere() int64 {
	s := C.CString(staticTLSBlockSym)
	defer C.free(unsafe.Pointer(s))
	return int64(C.rp_static_tls_offset_here(b.handle, s))
}

// StaticTLSHeld returns the bytes of static TLS, and the number of blocks,
// runplug's live modules hold. (Blocks of freed modules carved before a
// live one are held too, until it is freed: StaticTLSError.Pending.)
func StaticTLSHeld() (bytes uint64, modules int) {
	staticHeld.Lock()
	defer staticHeld.Unlock()
	return staticHeld.bytes, staticHeld.modules
}

// TLS descriptors (R_X86_64_TLSDESC, R_AARCH64_TLSDESC): the resolvers of
// tlsdesc_amd64.S and tlsdesc_arm64.S.

// tls.h's RP_TLSDESC_MOD_BITS is tlsDescModBits (each array is invalid
// when they differ one way or the other).
var (
	_ [C.RP_TLSDESC_MOD_BITS - tlsDescModBits]struct{}
	_ [tlsDescModBits - C.RP_TLSDESC_MOD_BITS]struct{}
)

// TLSDescStatic returns the resolver for a descriptor of a variable in
// static TLS: the descriptor's argument is the variable's offset from the
// thread pointer (StaticOffset plus its offset in the block).
func TLSDescStatic() uintptr { return uintptr(C.rp_tlsdesc_static_addr()) }

// TLSDescDynamic returns the resolver for a descriptor of a variable in a
// dynamic module; its argument is TLSDescDynamicArg's.
func TLSDescDynamic() uintptr { return uintptr(C.rp_tlsdesc_dynamic_addr()) }

// TLSDescDynamicArg returns the argument of a TLSDescDynamic descriptor
// for offset off in module id's block; false when they do not fit.
func TLSDescDynamicArg(id, off uint64) (uint64, bool) {
	if id == 0 || id > MaxTLSModules || id >= 1<<tlsDescModBits || off > TLSDescMaxOffset {
		return 0, false
	}
	return off<<tlsDescModBits | id, true
}

// fixtureTLSDesc returns a C function f(desc) that calls the descriptor
// as plugin code does and returns the variable's address.
func fixtureTLSDesc() uintptr { return uintptr(C.rp_tlsdesc_fixture_addr()) }

// fixtureTLSDescRegs returns a C function f(desc, want, wide, clobber)
// that calls the descriptor with known values in every register the
// caller does not save (on x86-64, ymm0-15 when wide is 1, else xmm0-15;
// on AArch64 x1-x18 and v0-v31 whole, wide ignored) and returns 1 when
// they survive and the address is want (else the code that says what
// changed); clobber 1 makes __tls_get_addr's slow path overwrite every
// call-clobbered register first.
func fixtureTLSDescRegs() uintptr { return uintptr(C.rp_tlsdesc_fixture_regs_addr()) }

// fixtureThreadPointer returns the calling thread's thread pointer.
func fixtureThreadPointer() uintptr { return uintptr(C.rp_tls_thread_pointer()) }

// TLSStaticOffset returns the static TLS offset of live module id (see
// TLSModule.StaticOffset); false when it is not a live static module.
func TLSStaticOffset(id uint64) (int64, bool) {
	var off C.int64_t
	if C.rp_tls_static_offset(C.uint64_t(id), &off) == 0 {
		return 0, false
	}
	return int64(off), true
}

// onMainThread reports whether the caller runs on the process's main
// thread (a test helper: a goroutine that ends locked there wedges the
// thread instead of ending it).
func onMainThread() bool { return unix.Gettid() == unix.Getpid() }
