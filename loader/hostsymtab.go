package loader

import (
	"sync"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/elfimage"
)

// hostSymTabs are the symbol tables of glibc's libraries read in place,
// by path: each file's first readable segment stays mapped read-only for
// the life of the process (those libraries never unload; the pages are
// the page cache's, which the host's own copy maps too).
var hostSymTabs sync.Map // string -> elfimage.SymTab

// hostSymTab returns the dynamic symbol table of the host library file at
// path, read where a read-only mapping of the file holds it, parsed
// through the process's cache of parsed files: a lookup decodes one
// symbol, where decoding the whole table of libc.so.6 (elfimage.Parse)
// took milliseconds. ok is false when the file cannot be mapped or its
// tables do not lie in one segment.
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
		page := elfimage.PageSize()
		skip := ld.Off % page
		m, err := unix.Mmap(fd, int64(ld.Off-skip), int(skip+ld.Filesz), unix.PROT_READ, unix.MAP_PRIVATE)
		if err != nil {
			return elfimage.SymTab{}, false
		}
		t, err := f.Dynamic.SymbolsIn(m[skip:], ld.Vaddr)
		if err != nil {
			unix.Munmap(m)
			return elfimage.SymTab{}, false
		}
		if v, loaded := hostSymTabs.LoadOrStore(path, t); loaded {
			unix.Munmap(m) // another goroutine mapped it first
			return v.(elfimage.SymTab), true
		}
		return t, true
	}
	return elfimage.SymTab{}, false
}
