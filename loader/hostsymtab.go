package loader

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/elfimage"
)

// hostSymTabs are the symbol tables of glibc's libraries, by path, each
// read in place from a read-only mapping of the file segment that holds it
// (libc's is 150 KB), kept for the life of the process like the parsed
// files. A mapping, not a copy: a lookup touches a few of its pages, where
// a copy took a page fault on every one of its 37 (half a millisecond of
// `runplug call`, on a VM).
var hostSymTabs sync.Map // string -> elfimage.SymTab

// maxHostSegment bounds the segment hostSymTab copies.
const maxHostSegment = 16 << 20

// hostSymTab returns the dynamic symbol table of the host library file at
// path, read where one read of the segment that holds it put it, the file
// parsed through the process's cache of parsed files: a lookup decodes
// one symbol, where decoding the whole file (elfimage.Parse) took
// milliseconds for libc.so.6. ok is false when the file cannot be read or
// its tables do not lie in one segment.
func hostSymTab(path string) (elfimage.SymTab, bool) {
	if v, ok := hostSymTabs.Load(path); ok {
		return v.(elfimage.SymTab), true
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return elfimage.SymTab{}, false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return elfimage.SymTab{}, false
	}
	f, err := cachedParse(statKey(&st), fdReader(fd), st.Size)
	if err != nil || f.Dynamic == nil {
		return elfimage.SymTab{}, false
	}
	// The segment that holds the symbol table; SymbolsIn refuses a
	// string, version or hash table outside it.
	vaddr := f.Dynamic.SymTab.Vaddr
	for _, ld := range f.Loads {
		if vaddr < ld.Vaddr || vaddr-ld.Vaddr >= ld.Filesz || ld.Off+ld.Filesz > uint64(st.Size) {
			continue
		}
		if ld.Filesz > maxHostSegment {
			return elfimage.SymTab{}, false
		}
		start := ld.Off &^ (uint64(unix.Getpagesize()) - 1)
		m, err := unix.Mmap(fd, int64(start), int(ld.Off+ld.Filesz-start), unix.PROT_READ, unix.MAP_PRIVATE)
		if err != nil {
			return elfimage.SymTab{}, false
		}
		t, err := f.Dynamic.SymbolsIn(m[ld.Off-start:], ld.Vaddr)
		if err != nil {
			unix.Munmap(m)
			return elfimage.SymTab{}, false
		}
		v, loaded := hostSymTabs.LoadOrStore(path, t)
		if loaded { // another goroutine mapped it first
			unix.Munmap(m)
		}
		return v.(elfimage.SymTab), true
	}
	return elfimage.SymTab{}, false
}
