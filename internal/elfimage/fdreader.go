package elfimage

import (
	"io"

	"golang.org/x/sys/unix"
)

// FDReader reads a file by descriptor with pread, retrying EINTR.
type FDReader int

// ReadAt implements io.ReaderAt.
func (r FDReader) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) {
		m, err := unix.Pread(int(r), b[n:], off+int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, io.EOF
		}
		n += m
	}
	return n, nil
}
