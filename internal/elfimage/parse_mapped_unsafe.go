package elfimage

import (
	"fmt"
	"io"
	"runtime/debug"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ParseMappedFD parses as ParseInPlace does the regular file open on fd,
// whose size the caller has just read with fstat, reading it where a
// read-only private mapping of those size bytes puts it rather than
// through read buffers: ld.so reads a library's dynamic segment the same
// way. In a fresh process this saves the first touches of the buffers
// (page faults, which on a VM cost more than the reads) and the system
// calls of the reads; the mapping is gone when it returns, and nothing
// the File holds points into it.
//
// A file can shrink while it is mapped, and a read of a page past its new
// end raises SIGBUS. The parse runs with faults turned into panics
// (debug.SetPanicOnFault); one inside the mapping ends it with an error
// wrapping io.ErrUnexpectedEOF, as a read that came up short does. The
// descriptor is neither closed nor kept.
func ParseMappedFD(fd int, size int64) (*File, error) {
	if size < ehdrSize {
		// Too short to be an object (and mmap refuses a length of 0):
		// Parse gives the error.
		return ParseInPlace(FDReader(fd), size)
	}
	if uint64(size) > uint64(^uintptr(0)>>1) {
		return nil, unsupported(-1, "file size", uint64(size), "does not fit in the address space")
	}
	n := uintptr(size)
	base, err := unix.MmapPtr(fd, 0, nil, n, unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		// A file that cannot be mapped (some file systems) is read.
		return ParseInPlace(FDReader(fd), size)
	}
	defer unix.MunmapPtr(base, n)
	// The mapping is not Go memory: the garbage collector neither scans
	// nor frees it, and the slice does not outlive this call (parser.data
	// is dropped with the parser; every value taken from it is decoded or
	// copied).
	return parseMapped(unsafe.Slice((*byte)(base), n))
}

// parseMapped parses data, the file where it is mapped, with faults inside
// the mapping turned into errors.
func parseMapped(data []byte) (f *File, err error) {
	base := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		fault, ok := v.(interface{ Addr() uintptr })
		if !ok || fault.Addr() < base || fault.Addr()-base >= uintptr(len(data)) {
			panic(v) // not a read of the mapping: a bug, not the file
		}
		f, err = nil, fmt.Errorf("elfmap: read at %#x: the file shrank while it was parsed: %w",
			fault.Addr()-base, io.ErrUnexpectedEOF)
	}()
	p := &parser{size: int64(len(data)), ps: PageSize(), f: &File{Size: int64(len(data))}, inPlace: true, data: data}
	return p.run()
}
