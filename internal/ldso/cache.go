package ldso

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// The two formats of /etc/ld.so.cache (glibc: sysdeps/generic/dl-cache.h).
//
// Old ("ld.so-1.7.0", libc5 and glibc 2.0/2.1): the 11-byte magic, a
// uint32 nlibs at offset 12, nlibs entries of 12 bytes (int32 flags,
// uint32 key, uint32 value), then the string table; key and value index
// that table.
//
// New ("glibc-ld.so.cache" "1.1", glibc 2.2 on): a 48-byte header (magic,
// version, uint32 nlibs, uint32 len_strings, uint8 flags whose low two
// bits give the byte order, 3 bytes of padding, uint32 extension_offset,
// 12 unused bytes), nlibs entries of 24 bytes (int32 flags, uint32 key,
// uint32 value, uint32 osversion, uint64 hwcap), then the strings; key and
// value are offsets from the start of the header. An old-format cache may
// carry a new one after its entries, at the next multiple of 8: readers
// then use the new one. The extension directory at extension_offset is a
// uint32 magic (0xeaa42174), a uint32 count and count 16-byte sections
// (tag, flags, offset, size); tag 1 lists the glibc-hwcaps subdirectory
// names (uint32 string offsets) that the hwcap field of an entry refers to
// when bit 62 is set.

const (
	oldMagic      = "ld.so-1.7.0"
	newMagic      = "glibc-ld.so.cache1.1"
	oldHeader     = 16 // magic, padding, nlibs
	oldEntrySize  = 12
	newHeader     = 48
	newEntrySize  = 24
	extMagic      = 0xeaa42174
	extSection    = 16
	extTagHwcaps  = 1
	extTagGen     = 0
	hwcapExt      = uint64(1) << 62
	isaLevelMask  = 1<<10 - 1
	maxCacheSize  = 64 << 20
	maxExtensions = 64
	// CacheFlagsX8664 is the flags value of an entry ld.so accepts on
	// x86-64: FLAG_ELF_LIBC6 | FLAG_X8664_LIB64.
	CacheFlagsX8664 = 0x0303
	// CacheFlagsAArch64 is the flags value of an entry ld.so accepts on
	// AArch64: FLAG_ELF_LIBC6 | FLAG_AARCH64_LIB64.
	CacheFlagsAArch64 = 0x0a03
)

// DefaultCachePath is where ld.so reads its cache.
const DefaultCachePath = "/etc/ld.so.cache"

// ErrBadCache is wrapped by every *CacheError.
var ErrBadCache = errors.New("malformed ld.so cache")

// CacheError reports a cache file ParseCache refused: the field at fault,
// its offset in the file and its value.
type CacheError struct {
	Off   int64 // file offset of the field (-1: not one field)
	Field string
	Value uint64
	Msg   string
}

// Error formats e as `ldso: cache: nlibs = 0x... at offset 0x14: ...`.
func (e *CacheError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ldso: cache: %s = %#x", e.Field, e.Value)
	if e.Off >= 0 {
		fmt.Fprintf(&b, " at offset %#x", e.Off)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// Unwrap returns ErrBadCache.
func (e *CacheError) Unwrap() error { return ErrBadCache }

func cacheErr(off int64, field string, v uint64, format string, args ...any) *CacheError {
	return &CacheError{Off: off, Field: field, Value: v, Msg: fmt.Sprintf(format, args...)}
}

// CacheEntry is one entry of the cache.
type CacheEntry struct {
	Name  string // the soname (the key)
	Path  string // the file (the value)
	Flags int32  // FLAG_* bits: the kind and ABI of the library
	// Hwcap is the raw hwcap field (0 in the old format).
	Hwcap uint64
	// HwcapDir is the glibc-hwcaps subdirectory ("x86-64-v3") the entry
	// is for, "" for an ordinary entry.
	HwcapDir string
	// ISALevel is the x86 ISA level the library needs (0 baseline, 1
	// x86-64-v2, ...), from the upper half of Hwcap.
	ISALevel int
}

// Cache is a parsed ld.so cache.
type Cache struct {
	// Format is "new", "old" or "old+new" (an old cache carrying a new
	// one, whose entries are then the ones used).
	Format string
	// Generator is the generator extension (e.g. "ldconfig (GNU libc)
	// release version 2.36"), "" when absent.
	Generator string
	// HwcapDirs are the glibc-hwcaps subdirectory names the cache knows.
	HwcapDirs []string
	// Entries are in file order (sorted by name, hwcaps entries of a name
	// before its ordinary one).
	Entries []CacheEntry
}

// ReadCache reads and parses the cache file at path.
func ReadCache(path string) (*Cache, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ldso: %w", err)
	}
	defer f.Close()
	// One read into a buffer of the file's size (ldconfig replaces the
	// cache by renaming a new file over it: an open one does not change).
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("ldso: %w", err)
	}
	if !st.Mode().IsRegular() || st.Size() > maxCacheSize {
		return nil, cacheErr(-1, "file size", uint64(st.Size()), "not a regular file of at most %d MiB", maxCacheSize>>20)
	}
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("ldso: read %s: %w", path, err)
	}
	return ParseCache(b)
}

var le = binary.LittleEndian

// ParseCache parses the bytes of an ld.so cache. Every count, offset and
// string is checked against b; a bad file gets a *CacheError.
func ParseCache(b []byte) (*Cache, error) {
	if len(b) > maxCacheSize {
		return nil, cacheErr(-1, "file size", uint64(len(b)), "larger than %d MiB", maxCacheSize>>20)
	}
	switch {
	case bytes.HasPrefix(b, []byte(newMagic)):
		c, err := parseNew(b, 0)
		if err != nil {
			return nil, err
		}
		c.Format = "new"
		return c, nil
	case bytes.HasPrefix(b, []byte(oldMagic)):
		return parseOld(b)
	}
	n := min(len(b), len(newMagic))
	return nil, cacheErr(0, "magic", 0, "%q is neither %q nor %q", b[:n], newMagic, oldMagic)
}

// parseOld parses the old format, and the new one it may carry.
func parseOld(b []byte) (*Cache, error) {
	if len(b) < oldHeader {
		return nil, cacheErr(-1, "file size", uint64(len(b)), "shorter than the old header (%d bytes)", oldHeader)
	}
	nlibs := uint64(le.Uint32(b[12:]))
	end := oldHeader + nlibs*oldEntrySize // < 2^37: no overflow
	if end > uint64(len(b)) {
		return nil, cacheErr(12, "nlibs", nlibs, "%d entries of %d bytes run past the end of the file (%d bytes)", nlibs, oldEntrySize, len(b))
	}
	// A new cache inside: at the first multiple of 8 after the entries.
	if inner := (end + 7) &^ 7; inner+uint64(len(newMagic)) <= uint64(len(b)) && bytes.HasPrefix(b[inner:], []byte(newMagic)) {
		c, err := parseNew(b, int(inner))
		if err != nil {
			return nil, err
		}
		c.Format = "old+new"
		return c, nil
	}
	strs := string(b[end:])
	c := &Cache{Format: "old", Entries: make([]CacheEntry, 0, nlibs)}
	for i := uint64(0); i < nlibs; i++ {
		e := b[oldHeader+i*oldEntrySize:]
		off := int64(oldHeader + i*oldEntrySize)
		key, err := cstr(strs, le.Uint32(e[4:]), off+4, "libs[%d].key", int(i))
		if err != nil {
			return nil, err
		}
		val, err := cstr(strs, le.Uint32(e[8:]), off+8, "libs[%d].value", int(i))
		if err != nil {
			return nil, err
		}
		c.Entries = append(c.Entries, CacheEntry{Name: key, Path: val, Flags: int32(le.Uint32(e))})
	}
	return c, nil
}

// parseNew parses a new-format cache that starts at b[base:]. String
// offsets count from there.
func parseNew(b []byte, base int) (*Cache, error) {
	h := b[base:]
	if len(h) < newHeader {
		return nil, cacheErr(int64(base), "file size", uint64(len(b)), "the new header (%d bytes) runs past the end of the file", newHeader)
	}
	nlibs := uint64(le.Uint32(h[20:]))
	lenStrings := uint64(le.Uint32(h[24:]))
	if flags := h[28] & 3; flags == 1 || flags == 3 {
		// 1: marked invalid by ldconfig; 3: big-endian.
		return nil, cacheErr(int64(base)+28, "flags", uint64(h[28]), "the cache is marked invalid or big-endian")
	}
	extOff := uint64(le.Uint32(h[32:]))
	end := newHeader + nlibs*newEntrySize // < 2^37: no overflow
	if end > uint64(len(h)) {
		return nil, cacheErr(int64(base)+20, "nlibs", nlibs, "%d entries of %d bytes run past the end of the file (%d bytes)", nlibs, newEntrySize, len(b))
	}
	if end+lenStrings > uint64(len(h)) {
		return nil, cacheErr(int64(base)+24, "len_strings", lenStrings, "the string table runs past the end of the file")
	}
	c := &Cache{Entries: make([]CacheEntry, 0, nlibs)}
	hs := string(h) // one copy: every name and path is a piece of it
	if extOff != 0 {
		if err := c.extensions(h, base, extOff); err != nil {
			return nil, err
		}
	}
	for i := uint64(0); i < nlibs; i++ {
		e := h[newHeader+i*newEntrySize:]
		off := int64(base) + int64(newHeader+i*newEntrySize)
		key, err := cstr(hs, le.Uint32(e[4:]), off+4, "libs[%d].key", int(i))
		if err != nil {
			return nil, err
		}
		val, err := cstr(hs, le.Uint32(e[8:]), off+8, "libs[%d].value", int(i))
		if err != nil {
			return nil, err
		}
		ce := CacheEntry{Name: key, Path: val, Flags: int32(le.Uint32(e)), Hwcap: le.Uint64(e[16:])}
		ce.ISALevel = int(ce.Hwcap >> 32 & isaLevelMask)
		if isHwcapExt(ce.Hwcap) {
			idx := uint64(uint32(ce.Hwcap))
			if idx >= uint64(len(c.HwcapDirs)) {
				return nil, cacheErr(off+16, fmt.Sprintf("libs[%d].hwcap", i), ce.Hwcap, "names glibc-hwcaps subdirectory %d of %d", idx, len(c.HwcapDirs))
			}
			ce.HwcapDir = c.HwcapDirs[idx]
		}
		c.Entries = append(c.Entries, ce)
	}
	return c, nil
}

// isHwcapExt reports whether an entry's hwcap names a glibc-hwcaps
// subdirectory: only bit 62 is set, ignoring the low half and the ISA
// level bits (dl_cache_hwcap_extension).
func isHwcapExt(hwcap uint64) bool {
	return (hwcap>>32)&^isaLevelMask == hwcapExt>>32
}

// extensions reads the extension directory at offset off of h.
func (c *Cache) extensions(h []byte, base int, off uint64) error {
	fo := int64(base) + int64(off)
	if off%4 != 0 || off+8 > uint64(len(h)) {
		return cacheErr(int64(base)+32, "extension_offset", off, "not a multiple of 4 inside the file")
	}
	if m := le.Uint32(h[off:]); m != extMagic {
		return cacheErr(fo, "extension magic", uint64(m), "is not %#x", extMagic)
	}
	count := uint64(le.Uint32(h[off+4:]))
	if count > maxExtensions || off+8+count*extSection > uint64(len(h)) {
		return cacheErr(fo+4, "extension count", count, "more than %d sections, or past the end of the file", maxExtensions)
	}
	for i := uint64(0); i < count; i++ {
		s := h[off+8+i*extSection:]
		so := fo + 8 + int64(i)*extSection
		tag, soff, size := le.Uint32(s), uint64(le.Uint32(s[8:])), uint64(le.Uint32(s[12:]))
		if soff+size > uint64(len(h)) {
			return cacheErr(so+8, fmt.Sprintf("extension[%d].offset", i), soff, "section of %d bytes runs past the end of the file", size)
		}
		data := h[soff : soff+size]
		switch tag {
		case extTagGen:
			c.Generator = string(bytes.TrimRight(data, "\x00"))
		case extTagHwcaps:
			if soff%4 != 0 || size%4 != 0 {
				return cacheErr(so+12, fmt.Sprintf("extension[%d].size", i), size, "the glibc-hwcaps section is not an aligned array of uint32")
			}
			c.HwcapDirs = make([]string, 0, size/4)
			for j := uint64(0); j < size; j += 4 {
				name, err := cstr(string(h), le.Uint32(data[j:]), int64(base)+int64(soff+j), "glibc-hwcaps[%d]", int(j/4))
				if err != nil {
					return err
				}
				c.HwcapDirs = append(c.HwcapDirs, name)
			}
		}
	}
	return nil
}

// cstr returns the NUL-terminated string at offset idx of t, a piece of
// t (no copy). The field's name (fieldFormat with fieldIndex) is
// formatted only for an error: a cache has a thousand entries.
func cstr(t string, idx uint32, fieldOff int64, fieldFormat string, fieldIndex int) (string, error) {
	if uint64(idx) >= uint64(len(t)) {
		return "", cacheErr(fieldOff, fmt.Sprintf(fieldFormat, fieldIndex), uint64(idx), "string offset past the end of the table (%d bytes)", len(t))
	}
	n := strings.IndexByte(t[idx:], 0)
	if n < 0 {
		return "", cacheErr(fieldOff, fmt.Sprintf(fieldFormat, fieldIndex), uint64(idx), "string has no NUL terminator")
	}
	return t[idx : int(idx)+n], nil
}

// Lookup returns the path ld.so would take from the cache for name on a
// CPU whose usable glibc-hwcaps subdirectories are hwcaps (in priority
// order, as HwcapsSubdirs returns them), considering only entries whose
// flags are flags (CacheFlags: CacheFlagsX8664 on x86-64). As glibc 2.36's
// search_cache: the glibc-hwcaps entry of the highest priority the CPU
// supports (and whose ISA level it has) wins; else the first ordinary
// entry. Entries for the legacy hwcaps (a non-zero hwcap without bit 62)
// are skipped: see the package doc.
func (c *Cache) Lookup(name string, hwcaps []string, flags int32) (string, bool) {
	if c == nil {
		return "", false
	}
	// A scan, not an index: a process looks a few names up, and a map of
	// a cache's hundreds of names (a slice per name) cost more page
	// faults to build than the scans cost.
	best, bestPrio := "", len(hwcaps)
	for i := range c.Entries {
		e := &c.Entries[i]
		if e.Name != name || e.Flags != flags {
			continue
		}
		if e.HwcapDir != "" {
			if e.ISALevel >= len(hwcaps)+1 { // the CPU lacks that ISA level
				continue
			}
			for p, h := range hwcaps {
				if h == e.HwcapDir && p < bestPrio {
					best, bestPrio = e.Path, p
				}
			}
			continue
		}
		if best != "" {
			return best, true
		}
		if e.Hwcap != 0 {
			continue
		}
		return e.Path, true
	}
	return best, best != ""
}
