package loader

import (
	"bytes"
	"testing"
)

// TestRelocKeptPlaces writes and reads 8- and 4-byte places inside, across
// the edges of, and outside the kept RELRO pages of a relocation pass: the
// bytes inside must land in the scratch copy and the others in the image
// (a malformed file's place may straddle the edge; the image there is
// read-only and must not be written).
func TestRelocKeptPlaces(t *testing.T) {
	const v = 0x0807060504030201
	for _, tc := range []struct {
		name    string
		at, n   int
		mem     string // the start of the image after the write (markers)
		scratch string // the scratch copy after the write
	}{
		{"before", 0, 8, "0102030405060708........................", "................"},
		{"straddles the start", 4, 8, "........01020304........................", "05060708........"},
		{"inside", 8, 8, "................................", "0102030405060708"},
		{"straddles the end", 12, 8, "................................05060708........", "........01020304"},
		{"after", 16, 8, "................................0102030405060708................", "................"},
		{"4 bytes inside", 10, 4, "................................", "....01020304...."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := bytes.Repeat([]byte{0xee}, 32)
			scratch := bytes.Repeat([]byte{0xee}, 8)
			e := &relocEnv{mem: mem, keep: scratch, keepFrom: 8}
			e.put(tc.at, tc.n, v)
			if got := markers(mem[:len(tc.mem)/2]); got != tc.mem {
				t.Errorf("image %s, want %s", got, tc.mem)
			}
			if got := markers(scratch); got != tc.scratch {
				t.Errorf("scratch %s, want %s", got, tc.scratch)
			}
			if tc.n == 8 {
				if got := e.get64(tc.at); got != v {
					t.Errorf("get64(%d) = %#x, want %#x", tc.at, got, uint64(v))
				}
			}
		})
	}
	e := &relocEnv{mem: make([]byte, 16)}
	e.put(8, 8, v)
	if got := e.get64(8); got != v {
		t.Errorf("without kept pages: get64 = %#x, want %#x", got, uint64(v))
	}
}

// markers writes b as hex, with ".." for the untouched 0xee.
func markers(b []byte) string {
	var s []byte
	for _, c := range b {
		if c == 0xee {
			s = append(s, '.', '.')
			continue
		}
		s = append(s, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
	}
	return string(s)
}
