package sysmaps

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	text := `7f0000001000-7f0000003000 r-xp 00002000 fe:01 1234                       /usr/lib/x86_64-linux-gnu/libz.so.1.2.13
7f0000000000-7f0000001000 ---p 00000000 00:00 0 
7f0000003000-7f0000004000 rw-p 00000000 00:00 0                          [heap]
7f0000004000-7f0000005000 r--p 00001000 fe:01 99   /tmp/dir with space/a b.so (deleted)
`
	ms, err := Parse(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := []Mapping{
		{0x7f0000000000, 0x7f0000001000, "---p", 0, "00:00", 0, ""},
		{0x7f0000001000, 0x7f0000003000, "r-xp", 0x2000, "fe:01", 1234, "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13"},
		{0x7f0000003000, 0x7f0000004000, "rw-p", 0, "00:00", 0, "[heap]"},
		{0x7f0000004000, 0x7f0000005000, "r--p", 0x1000, "fe:01", 99, "/tmp/dir with space/a b.so (deleted)"},
	}
	if len(ms) != len(want) {
		t.Fatalf("got %d mappings, want %d: %v", len(ms), len(want), ms)
	}
	for i := range want {
		if ms[i] != want[i] {
			t.Errorf("mapping %d = %+v, want %+v", i, ms[i], want[i])
		}
	}

	tests := []struct {
		addr uintptr
		want int // index into want, -1 for none
	}{
		{0x7effffffffff, -1},
		{0x7f0000000000, 0},
		{0x7f0000000fff, 0},
		{0x7f0000001000, 1},
		{0x7f0000002abc, 1},
		{0x7f0000004fff, 3},
		{0x7f0000005000, -1},
	}
	for _, tt := range tests {
		m, ok := Find(ms, tt.addr)
		if tt.want < 0 {
			if ok {
				t.Errorf("Find(%#x) = %v, want none", tt.addr, m)
			}
			continue
		}
		if !ok || m != want[tt.want] {
			t.Errorf("Find(%#x) = %v, %v; want %v", tt.addr, m, ok, want[tt.want])
		}
	}
	if got := Overlapping(ms, 0x7f0000000800, 0x7f0000003001); len(got) != 3 || got[0] != want[0] || got[2] != want[2] {
		t.Errorf("Overlapping = %v", got)
	}
	if got := Overlapping(ms, 0x7f0000005000, 0x7f0000006000); len(got) != 0 {
		t.Errorf("Overlapping past the end = %v", got)
	}
}

func TestParseMalformed(t *testing.T) {
	for _, line := range []string{
		"zzzz-1000 r-xp 0 00:00 0",
		"1000 r-xp 0 00:00 0",
		"2000-1000 r-xp 0 00:00 0",
		"1000-2000 r-x 0 00:00 0",
		"1000-2000 r-xp xyz 00:00 0",
		"1000-2000 r-xp 0 00:00 inode",
		"1000-2000 r-xp 0",
	} {
		if _, err := Parse(strings.NewReader(line + "\n")); err == nil {
			t.Errorf("Parse(%q) succeeded", line)
		}
	}
}

// TestReadSelf checks the live reader against what must be in every Go
// test process: its own executable mapped with an executable segment.
func TestReadSelf(t *testing.T) {
	ms, err := Read()
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe, err = filepath.EvalSymlinks(exe)
	if err != nil {
		t.Fatal(err)
	}
	var code *Mapping
	for i, m := range ms {
		if i > 0 && m.Start < ms[i-1].End {
			t.Errorf("mappings overlap or are unsorted: %v then %v", ms[i-1], m)
		}
		if m.Path == exe && m.Perms == "r-xp" {
			code = &ms[i]
		}
	}
	if code == nil {
		t.Fatalf("no r-xp mapping of %s in /proc/self/maps", exe)
	}
	if code.Inode == 0 || code.Anonymous() {
		t.Errorf("executable's mapping has no inode: %v", code)
	}
	got, ok, err := Lookup(code.Start)
	if err != nil || !ok || got.Path != exe {
		t.Errorf("Lookup(%#x) = %v, %v, %v", code.Start, got, ok, err)
	}
}

func TestSnapshotter(t *testing.T) {
	s, err := NewSnapshotter("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.buf = make([]byte, 16) // force the buffer to grow
	for i := 0; i < 2; i++ {
		if err := s.Take(); err != nil {
			t.Fatal(err)
		}
		got, err := s.Mappings()
		if err != nil {
			t.Fatal(err)
		}
		want, err := Read()
		if err != nil {
			t.Fatal(err)
		}
		// The process may map memory between the two reads; the
		// executable's mappings are in both.
		exe, _ := os.Executable()
		exe, _ = filepath.EvalSymlinks(exe)
		count := func(ms []Mapping) int {
			n := 0
			for _, m := range ms {
				if m.Path == exe {
					n++
				}
			}
			return n
		}
		if len(got) == 0 || count(got) == 0 || count(got) != count(want) {
			t.Errorf("snapshot %d: %d mappings, %d of the executable; Read: %d of the executable", i, len(got), count(got), count(want))
		}
	}
	if allocs := testing.AllocsPerRun(10, func() { s.Take() }); allocs != 0 {
		t.Errorf("Take allocates %v times per run", allocs)
	}
}
