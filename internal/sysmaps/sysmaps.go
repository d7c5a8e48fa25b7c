// Package sysmaps reads the kernel's list of a process's memory mappings
// (/proc/PID/maps on Linux).
//
// Tests use it to check that what elfimage mapped is what the plan says
// (addresses, permissions, file offsets, backing files) and that nothing is
// left behind after an unmap; the sandbox uses it to say whether a faulting
// address was mapped at all. Reading the file is slow (it allocates and
// makes the kernel walk every mapping), so it belongs to tests and to error
// paths, never to a hot path.
package sysmaps

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Mapping is one line of /proc/PID/maps.
type Mapping struct {
	Start, End uintptr // [Start, End)
	Perms      string  // four characters, e.g. "r-xp", "---p", "rw-s"
	Offset     uint64  // file offset of Start (0 for anonymous mappings)
	Dev        string  // "major:minor" of the backing file's device
	Inode      uint64  // inode of the backing file, 0 for anonymous memory
	Path       string  // backing file, pseudo-name such as "[heap]", or ""
}

// Size returns End - Start.
func (m Mapping) Size() uintptr { return m.End - m.Start }

// Contains reports whether addr is inside m.
func (m Mapping) Contains(addr uintptr) bool { return addr >= m.Start && addr < m.End }

// Anonymous reports whether m has no backing file (inode 0).
func (m Mapping) Anonymous() bool { return m.Inode == 0 }

// String formats m like a line of /proc/PID/maps.
func (m Mapping) String() string {
	return fmt.Sprintf("%x-%x %s %08x %s %d %s", m.Start, m.End, m.Perms, m.Offset, m.Dev, m.Inode, m.Path)
}

// Read returns the current process's mappings, ascending by address.
func Read() ([]Mapping, error) { return ReadFile("/proc/self/maps") }

// ReadFile reads and parses a maps file such as /proc/1234/maps.
func ReadFile(path string) ([]Mapping, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sysmaps: %w", err)
	}
	defer f.Close()
	ms, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("sysmaps: %s: %w", path, err)
	}
	return ms, nil
}

// Parse parses the text of a maps file.
func Parse(r io.Reader) ([]Mapping, error) {
	var ms []Mapping
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" {
			continue
		}
		m, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		ms = append(ms, m)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Start < ms[j].Start })
	return ms, nil
}

// parseLine parses "start-end perms offset dev inode   path".
func parseLine(line string) (Mapping, error) {
	var m Mapping
	fields := strings.Fields(line)
	if len(fields) < 5 {
		return m, fmt.Errorf("malformed line %q", line)
	}
	lo, hi, ok := strings.Cut(fields[0], "-")
	if !ok {
		return m, fmt.Errorf("malformed range %q", fields[0])
	}
	start, err := strconv.ParseUint(lo, 16, 64)
	if err != nil {
		return m, fmt.Errorf("range start: %w", err)
	}
	end, err := strconv.ParseUint(hi, 16, 64)
	if err != nil {
		return m, fmt.Errorf("range end: %w", err)
	}
	if end < start {
		return m, fmt.Errorf("range %q ends before it starts", fields[0])
	}
	if len(fields[1]) != 4 {
		return m, fmt.Errorf("malformed permissions %q", fields[1])
	}
	off, err := strconv.ParseUint(fields[2], 16, 64)
	if err != nil {
		return m, fmt.Errorf("offset: %w", err)
	}
	inode, err := strconv.ParseUint(fields[4], 10, 64)
	if err != nil {
		return m, fmt.Errorf("inode: %w", err)
	}
	m = Mapping{
		Start:  uintptr(start),
		End:    uintptr(end),
		Perms:  fields[1],
		Offset: off,
		Dev:    fields[3],
		Inode:  inode,
	}
	if len(fields) > 5 {
		// The path is the rest of the line after the inode column; it
		// may contain spaces (and ends in " (deleted)" for a removed
		// file, which is kept as the kernel prints it).
		rest := line
		for i := 0; i < 5; i++ {
			rest = strings.TrimLeft(rest, " \t")
			j := strings.IndexAny(rest, " \t")
			if j < 0 {
				rest = ""
				break
			}
			rest = rest[j:]
		}
		m.Path = strings.TrimLeft(rest, " \t")
	}
	return m, nil
}

// Snapshotter takes snapshots of a maps file through one open descriptor
// into one buffer, so that taking a snapshot makes no allocation (once the
// buffer has grown to fit) and therefore cannot make the Go runtime map
// new memory in the middle of it. Tests use it to look at an address range
// right after unmapping it, before the runtime may reuse the range.
type Snapshotter struct {
	f   *os.File
	buf []byte
	n   int
}

// NewSnapshotter opens the maps file at path (e.g. "/proc/self/maps").
func NewSnapshotter(path string) (*Snapshotter, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sysmaps: %w", err)
	}
	return &Snapshotter{f: f, buf: make([]byte, 256<<10)}, nil
}

// Take reads the whole file into the buffer. It allocates only when the
// buffer is too small, and then retries with a larger one.
func (s *Snapshotter) Take() error {
	for {
		n := 0
		for n < len(s.buf) {
			m, err := s.f.ReadAt(s.buf[n:], int64(n))
			n += m
			if err == io.EOF {
				s.n = n
				return nil
			}
			if err != nil {
				return fmt.Errorf("sysmaps: %w", err)
			}
		}
		s.buf = make([]byte, 2*len(s.buf))
	}
}

// Mappings parses the last snapshot.
func (s *Snapshotter) Mappings() ([]Mapping, error) {
	return Parse(bytes.NewReader(s.buf[:s.n]))
}

// Close closes the file.
func (s *Snapshotter) Close() error { return s.f.Close() }

// Find returns the mapping of ms (ascending, as Read returns them) that
// contains addr.
func Find(ms []Mapping, addr uintptr) (Mapping, bool) {
	i := sort.Search(len(ms), func(i int) bool { return ms[i].End > addr })
	if i < len(ms) && ms[i].Contains(addr) {
		return ms[i], true
	}
	return Mapping{}, false
}

// Overlapping returns the mappings of ms (ascending) that overlap
// [start, end), in order.
func Overlapping(ms []Mapping, start, end uintptr) []Mapping {
	var out []Mapping
	for _, m := range ms {
		if m.Start < end && m.End > start {
			out = append(out, m)
		}
	}
	return out
}

// Lookup reads the current process's mappings and returns the one that
// contains addr; ok is false when addr is not mapped.
func Lookup(addr uintptr) (m Mapping, ok bool, err error) {
	ms, err := Read()
	if err != nil {
		return Mapping{}, false, err
	}
	m, ok = Find(ms, addr)
	return m, ok, nil
}
