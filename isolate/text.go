package isolate

import "encoding/binary"

// putStrings writes each string as a 4-byte little-endian length and its
// bytes into b; it returns the bytes used (strings that do not fit are
// cut).
func putStrings(b []byte, ss ...string) int {
	off := 0
	for _, s := range ss {
		if off+4 > len(b) {
			break
		}
		n := min(len(s), len(b)-off-4)
		binary.LittleEndian.PutUint32(b[off:], uint32(n))
		copy(b[off+4:], s[:n])
		off += 4 + n
	}
	return off
}

// readStrings reads n strings that putStrings wrote in b[:size], checking
// every length (the writer may be hostile).
func readStrings(b []byte, size, n int) ([]string, bool) {
	if size < 0 || size > len(b) {
		return nil, false
	}
	b = b[:size]
	out := make([]string, 0, n)
	for len(out) < n {
		if len(b) < 4 {
			return out, false
		}
		l := binary.LittleEndian.Uint32(b)
		if uint64(l) > uint64(len(b)-4) {
			return out, false
		}
		out = append(out, string(b[4:4+l]))
		b = b[4+l:]
	}
	return out, true
}

// readStrings2 reads two strings (a missing second one is "").
func readStrings2(b []byte, size int) (string, string, bool) {
	ss, ok := readStrings(b, size, 2)
	for len(ss) < 2 {
		ss = append(ss, "")
	}
	return ss[0], ss[1], ok || len(ss) > 0
}
