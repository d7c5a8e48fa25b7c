package ldso

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/runplug/runplug/internal/testenv"
)

// entry is a cache entry for buildCache: hwcapDir "" is an ordinary entry.
type entry struct {
	name, path string
	flags      int32
	hwcapDir   string
	isaLevel   int
}

// buildCache writes a new-format cache (inside an old one when old is
// set) with a glibc-hwcaps extension naming dirs, as ldconfig does.
func buildCache(entries []entry, dirs []string, old bool) []byte {
	var strs bytes.Buffer
	strOff := map[string]uint32{}
	// Offsets are from the new header; the string table follows the
	// entries, whose size is known up front.
	strBase := uint32(newHeader + newEntrySize*len(entries))
	intern := func(s string) uint32 {
		if o, ok := strOff[s]; ok {
			return o
		}
		o := strBase + uint32(strs.Len())
		strs.WriteString(s)
		strs.WriteByte(0)
		strOff[s] = o
		return o
	}
	type raw struct {
		flags      int32
		key, value uint32
		hwcap      uint64
	}
	var rs []raw
	for _, e := range entries {
		r := raw{flags: e.flags, key: intern(e.name), value: intern(e.path)}
		if e.hwcapDir != "" {
			idx := -1
			for i, d := range dirs {
				if d == e.hwcapDir {
					idx = i
				}
			}
			r.hwcap = hwcapExt | uint64(e.isaLevel)<<32 | uint64(uint32(idx))
		}
		rs = append(rs, r)
	}
	dirOffs := make([]uint32, len(dirs))
	for i, d := range dirs {
		dirOffs[i] = intern(d)
	}
	for strs.Len()%4 != 0 {
		strs.WriteByte(0)
	}
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString(newMagic)
	binary.Write(&b, le, uint32(len(rs)))
	binary.Write(&b, le, uint32(strs.Len()))
	b.WriteByte(2) // little-endian
	b.Write([]byte{0, 0, 0})
	extOff := uint32(newHeader + newEntrySize*len(rs) + strs.Len())
	binary.Write(&b, le, extOff)
	b.Write(make([]byte, 12))
	for _, r := range rs {
		binary.Write(&b, le, r.flags)
		binary.Write(&b, le, r.key)
		binary.Write(&b, le, r.value)
		binary.Write(&b, le, uint32(0))
		binary.Write(&b, le, r.hwcap)
	}
	b.Write(strs.Bytes())
	// Extension directory: one glibc-hwcaps section after it.
	binary.Write(&b, le, uint32(extMagic))
	binary.Write(&b, le, uint32(1))
	sec := extOff + 8 + extSection
	binary.Write(&b, le, []uint32{extTagHwcaps, 0, sec, uint32(4 * len(dirs))})
	binary.Write(&b, le, dirOffs)
	if !old {
		return b.Bytes()
	}
	// An old cache with no entries, then the new one at offset 16
	// (already a multiple of 8). The new cache's offsets are relative to
	// its own header, but its extension offset is not: ldconfig writes
	// caches like this only with no extension, so drop it.
	nb := b.Bytes()
	le.PutUint32(nb[32:], 0)
	var o bytes.Buffer
	o.WriteString(oldMagic)
	o.WriteByte(0)
	binary.Write(&o, le, uint32(0))
	o.Write(nb)
	return o.Bytes()
}

var testEntries = []entry{
	{"libfoo.so.1", "/opt/lib/glibc-hwcaps/x86-64-v3/libfoo.so.1", CacheFlags, "x86-64-v3", 2},
	{"libfoo.so.1", "/opt/lib/glibc-hwcaps/x86-64-v2/libfoo.so.1", CacheFlags, "x86-64-v2", 1},
	{"libfoo.so.1", "/opt/lib/libfoo.so.1", CacheFlags, "", 0},
	{"libfoo.so.1", "/opt/lib32/libfoo.so.1", 0x0003, "", 0}, // another ABI
	{"libonly32.so", "/opt/lib32/libonly32.so", 0x0003, "", 0},
	{"libz.so.1", "/usr/local/lib/libz.so.1", CacheFlags, "", 0},
}

var testDirs = []string{"x86-64-v2", "x86-64-v3"}

func TestCacheLookup(t *testing.T) {
	{
		c, err := ParseCache(buildCache(testEntries, testDirs, false))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c.HwcapDirs, testDirs) {
			t.Errorf("HwcapDirs = %q, want %q", c.HwcapDirs, testDirs)
		}
		tests := []struct {
			name   string
			hwcaps []string
			want   string
		}{
			{"libfoo.so.1", []string{"x86-64-v4", "x86-64-v3", "x86-64-v2"}, "/opt/lib/glibc-hwcaps/x86-64-v3/libfoo.so.1"},
			{"libfoo.so.1", []string{"x86-64-v3", "x86-64-v2"}, "/opt/lib/glibc-hwcaps/x86-64-v3/libfoo.so.1"},
			{"libfoo.so.1", []string{"x86-64-v2"}, "/opt/lib/glibc-hwcaps/x86-64-v2/libfoo.so.1"},
			{"libfoo.so.1", nil, "/opt/lib/libfoo.so.1"},
			{"libz.so.1", []string{"x86-64-v2"}, "/usr/local/lib/libz.so.1"},
			{"libonly32.so", nil, ""},
			{"libnone.so", nil, ""},
		}
		for _, tt := range tests {
			got, ok := c.Lookup(tt.name, tt.hwcaps, CacheFlags)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("Lookup(%q, %q) = %q, %v; want %q", tt.name, tt.hwcaps, got, ok, tt.want)
			}
		}
	}
}

func TestCacheOldPlusNew(t *testing.T) {
	ents := []entry{{"libz.so.1", "/usr/local/lib/libz.so.1", CacheFlags, "", 0}}
	c, err := ParseCache(buildCache(ents, nil, true))
	if err != nil {
		t.Fatal(err)
	}
	if c.Format != "old+new" {
		t.Errorf("Format = %q", c.Format)
	}
	if p, _ := c.Lookup("libz.so.1", nil, CacheFlags); p != "/usr/local/lib/libz.so.1" {
		t.Errorf("Lookup = %q", p)
	}
}

func TestCacheOldFormat(t *testing.T) {
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString(oldMagic)
	b.WriteByte(0)
	binary.Write(&b, le, uint32(1))
	binary.Write(&b, le, []uint32{CacheFlags, 0, 10})
	b.WriteString("libc5.so\x00\x00/lib/libc5.so\x00")
	c, err := ParseCache(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if c.Format != "old" || len(c.Entries) != 1 || c.Entries[0].Name != "libc5.so" || c.Entries[0].Path != "/lib/libc5.so" {
		t.Errorf("got %+v", c)
	}
}

// TestCacheMalformed: each corruption of a good cache gets a *CacheError
// naming the field.
func TestCacheMalformed(t *testing.T) {
	good := buildCache(testEntries, testDirs, false)
	le := binary.LittleEndian
	tests := []struct {
		name  string
		edit  func(b []byte) []byte
		field string
	}{
		{"magic", func(b []byte) []byte { b[0] = 'x'; return b }, "magic"},
		{"short", func(b []byte) []byte { return b[:30] }, "file size"},
		{"nlibs", func(b []byte) []byte { le.PutUint32(b[20:], 1<<30); return b }, "nlibs"},
		{"len_strings", func(b []byte) []byte { le.PutUint32(b[24:], 1<<30); return b }, "len_strings"},
		{"big-endian", func(b []byte) []byte { b[28] = 3; return b }, "flags"},
		{"key", func(b []byte) []byte { le.PutUint32(b[newHeader+4:], 1<<31); return b }, "libs[0].key"},
		{"value", func(b []byte) []byte { le.PutUint32(b[newHeader+8:], uint32(len(b))); return b }, "libs[0].value"},
		{"ext offset", func(b []byte) []byte { le.PutUint32(b[32:], uint32(len(b))); return b }, "extension_offset"},
		{"ext magic", func(b []byte) []byte { b[le.Uint32(b[32:])] ^= 1; return b }, "extension magic"},
		{"ext count", func(b []byte) []byte { le.PutUint32(b[le.Uint32(b[32:])+4:], 1<<20); return b }, "extension count"},
		{"hwcap index", func(b []byte) []byte { le.PutUint32(b[newHeader+16:], 7); return b }, "libs[0].hwcap"},
		{"unterminated", func(b []byte) []byte {
			// The last string runs into the end: cut the file after
			// the first byte of the table's last string.
			return b[:len(b)-8-extSection-4*len(testDirs)-2]
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.edit(append([]byte(nil), good...))
			_, err := ParseCache(b)
			var ce *CacheError
			if !errors.As(err, &ce) || !errors.Is(err, ErrBadCache) {
				t.Fatalf("err = %v, want a *CacheError", err)
			}
			if tt.field != "" && ce.Field != tt.field {
				t.Errorf("Field = %q, want %q (%v)", ce.Field, tt.field, err)
			}
		})
	}
}

// TestSystemCache parses the machine's cache and checks a library ld.so
// finds through it.
func TestSystemCache(t *testing.T) {
	testenv.NeedNative(t, "the machine's own ld.so.cache")
	testenv.NeedFile(t, DefaultCachePath, "libc-bin (ldconfig)")
	c, err := ReadCache(DefaultCachePath)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := c.Lookup("libc.so.6", HwcapsSubdirs(), CacheFlags)
	if !ok {
		t.Fatalf("libc.so.6 is not in %s (%d entries)", DefaultCachePath, len(c.Entries))
	}
	if filepath.Base(p) != "libc.so.6" {
		t.Errorf("libc.so.6 -> %q", p)
	}
	if _, err := os.Stat(p); err != nil {
		t.Error(err)
	}
	t.Logf("%s: %s, %d entries, hwcaps %q, generator %q", DefaultCachePath, c.Format, len(c.Entries), c.HwcapDirs, c.Generator)
}

func FuzzParseCache(f *testing.F) {
	f.Add(buildCache(testEntries, testDirs, false))
	f.Add(buildCache(testEntries[:1], nil, true))
	if b, err := os.ReadFile("testdata/ld.so.cache"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCache(b)
		if err != nil {
			var ce *CacheError
			if !errors.As(err, &ce) {
				t.Fatalf("error is not a *CacheError: %v", err)
			}
			return
		}
		for _, e := range c.Entries {
			c.Lookup(e.Name, []string{"x86-64-v3", "x86-64-v2"}, e.Flags)
		}
	})
}
