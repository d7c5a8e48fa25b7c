package elfimage

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/runplug/runplug/internal/testenv"
)

// TestParseMappedFD parses real objects where they are mapped and checks
// that the result is ParseInPlace's through reads.
func TestParseMappedFD(t *testing.T) {
	for _, path := range oracleFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			want, _, size := parseCounted(t, path, true)
			fh, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			got, err := ParseMappedFD(int(fh.Fd()), size)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("ParseMappedFD = %+v\nParseInPlace = %+v", got, want)
			}
		})
	}
}

// TestParseMappedFDTruncated parses a file that shrank after its size was
// read (the loader reads it with fstat, then parses): the mapping of the
// old size reaches past the new end, where a read raises SIGBUS. Each
// parse must end in an error wrapping io.ErrUnexpectedEOF, as a short read
// does, and the process must go on.
func TestParseMappedFDTruncated(t *testing.T) {
	src := testenv.SystemLibPath("libsqlite3.so.0")
	testenv.NeedFile(t, src, ".ci/run installs the system libraries")
	orig, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseInPlace(bytes.NewReader(orig), int64(len(orig)))
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range f.Progs {
		if ph.Type == elf.PT_DYNAMIC && ph.Off < uint64(PageSize()) {
			t.Fatal("the dynamic segment is in the first page: truncating to a page leaves it")
		}
	}
	ps := int64(PageSize())
	for _, keep := range []int64{
		0,  // the ELF header's page is gone
		ps, // the headers are there, the dynamic segment is not
	} {
		t.Run(fmt.Sprintf("keep%#x", keep), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "lib.so")
			if err := os.WriteFile(path, orig, 0o644); err != nil {
				t.Fatal(err)
			}
			fh, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			size := int64(len(orig)) // read before the file shrinks
			if err := fh.Truncate(keep); err != nil {
				t.Fatal(err)
			}
			got, err := ParseMappedFD(int(fh.Fd()), size)
			if got != nil || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("ParseMappedFD of a file truncated to %#x bytes = %v, %v; want an error wrapping io.ErrUnexpectedEOF", keep, got, err)
			}
			t.Logf("%v", err)
		})
	}
}
