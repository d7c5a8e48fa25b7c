package loader

import (
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/fileinfo"
)

// maxSharedFiles bounds the process's cache of parsed files.
const maxSharedFiles = 256

// sharedFiles is the process's cache of parsed files: every Loader (and
// the command, through fileinfo.ParseOpen) parses a file once per process. An
// *elfimage.File is never modified once parsed, so the entries are shared
// as they are; what depends on a Loader's options (the plan, the segment
// spans) is derived per Loader (Loader.files).
var sharedFiles = struct {
	mu sync.Mutex
	m  map[fileKey]*elfimage.File
}{m: map[fileKey]*elfimage.File{}}

// cachedParse returns the parsed description of the file whose identity is
// key, parsing it from r (of the given size) on a miss.
func cachedParse(key fileKey, r fdReader, size int64) (*elfimage.File, error) {
	sharedFiles.mu.Lock()
	f := sharedFiles.m[key]
	sharedFiles.mu.Unlock()
	if f != nil {
		return f, nil
	}
	// Parsed without the lock: two goroutines that miss together both
	// parse, and the second result replaces the first, which is equal.
	f, err := elfimage.ParseInPlace(r, size)
	if err != nil {
		return nil, err
	}
	sharedFiles.mu.Lock()
	if len(sharedFiles.m) >= maxSharedFiles {
		for k := range sharedFiles.m { // drop an arbitrary entry
			delete(sharedFiles.m, k)
			break
		}
	}
	sharedFiles.m[key] = f
	sharedFiles.mu.Unlock()
	return f, nil
}

func init() { fileinfo.ParseOpen = parseOpen }

// parseOpen returns the parsed description of the regular file fh, as
// elfimage.ParseInPlace gives it (the symbols are left in the file), from the process's cache of parsed files when the
// same file (device, inode, size, modification time) was parsed before by
// this function or by any Loader, so that a program that inspects a file
// and then loads it parses it once. The File is shared: it must not be
// modified.
func parseOpen(fh *os.File) (*elfimage.File, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(fh.Fd()), &st); err != nil {
		return nil, fmt.Errorf("stat %s: %w", fh.Name(), err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s: not a regular file: %w", fh.Name(), elfimage.ErrUnsupported)
	}
	return cachedParse(statKey(&st), fdReader(fh.Fd()), st.Size)
}

// readPristine returns p's pristine copy, reading it the first time it is
// asked for, when the first image of the file is parked (not at load: a
// process that never closes a plugin never pays for it), through the
// descriptor kept since the load, and only if the file is still the one
// p was parsed from. Without it (changed, LoadBytes, writable part over
// 16 MiB) closed images are tombstoned and every load maps afresh. l.mu
// is held.
func (p *parsed) readPristine() *elfimage.Pristine {
	if p.pristineRead || p.fd < 0 {
		return p.pristine
	}
	p.pristineRead = true
	defer p.closeFD()
	var st unix.Stat_t
	if err := unix.Fstat(p.fd, &st); err != nil || statKey(&st) != p.key {
		return nil
	}
	p.pristine, _ = elfimage.ReadPristine(p.plan, fdReader(p.fd))
	return p.pristine
}

// closeFD closes the descriptor p keeps for its pristine copy, if any.
func (p *parsed) closeFD() {
	if p.fd >= 0 {
		unix.Close(p.fd)
		p.fd = -1
	}
}
