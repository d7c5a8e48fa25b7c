package loader

import (
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/elfmap"
)

// maxSharedFiles bounds the process's cache of parsed files.
const maxSharedFiles = 256

// sharedFiles is the process's cache of parsed files: every Loader (and
// the command, through ParseOpen) parses a file once per process. An
// *elfmap.File is never modified once parsed, so the entries are shared
// as they are; what depends on a Loader's options (the plan, the segment
// spans) is derived per Loader (Loader.files).
var sharedFiles = struct {
	mu sync.Mutex
	m  map[fileKey]*elfmap.File
}{m: map[fileKey]*elfmap.File{}}

// cachedParse returns the parsed description of the file whose identity is
// key, parsing it from r (of the given size) on a miss.
func cachedParse(key fileKey, r fdReader, size int64) (*elfmap.File, error) {
	sharedFiles.mu.Lock()
	f := sharedFiles.m[key]
	sharedFiles.mu.Unlock()
	if f != nil {
		return f, nil
	}
	// Parsed without the lock: two goroutines that miss together both
	// parse, and the second result replaces the first, which is equal.
	f, err := elfmap.Parse(r, size)
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

// ParseOpen returns the parsed description of the regular file fh, as
// elfmap.Parse gives it, from the process's cache of parsed files when the
// same file (device, inode, size, modification time) was parsed before by
// this function or by any Loader, so that a program that inspects a file
// and then loads it parses it once. The File is shared: it must not be
// modified.
func ParseOpen(fh *os.File) (*elfmap.File, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(fh.Fd()), &st); err != nil {
		return nil, fmt.Errorf("stat %s: %w", fh.Name(), err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s: not a regular file: %w", fh.Name(), elfmap.ErrUnsupported)
	}
	return cachedParse(statKey(&st), fdReader(fh.Fd()), st.Size)
}

// parsePath is elfmap.ParseFile through the process's cache.
func parsePath(path string) (*elfmap.File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("elfmap: %w", err)
	}
	defer fh.Close()
	f, err := ParseOpen(fh)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return f, nil
}

// readPristine returns p's pristine copy, reading it the first time it is
// asked for, when the first image of the file is parked (not at load: a
// process that never closes a plugin never pays for it). It is read from
// path only if that is still the file p was parsed from; without it
// (changed, gone, LoadBytes, writable part over 16 MiB) closed images are
// tombstoned and every load maps afresh. l.mu is held.
func (p *parsed) readPristine(path string) *elfmap.Pristine {
	if p.pristineRead || path == "" {
		return p.pristine
	}
	p.pristineRead = true
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || statKey(&st) != p.key {
		return nil
	}
	p.pristine, _ = elfmap.ReadPristine(p.plan, fdReader(fd))
	return p.pristine
}
