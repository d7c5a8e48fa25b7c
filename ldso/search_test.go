package ldso

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/testenv"
)

func paths(cs []Candidate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.From+" "+c.Path)
	}
	return out
}

// TestCandidatesOrder checks ld.so's order (elf/dl-load.c, _dl_map_object):
// DT_RPATH up the needer chain only without DT_RUNPATH, then LD_LIBRARY_PATH,
// then DT_RUNPATH, then the cache, then the default directories, with the
// glibc-hwcaps subdirectories first in each directory.
func TestCandidatesOrder(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "ld.so.cache")
	os.WriteFile(cache, buildCache([]entry{{"libx.so.1", "/cached/libx.so.1", CacheFlagsX8664, "", 0}}, nil, false), 0o644)
	s := &Search{SearchPath: []string{"/host"}, LibraryPath: []string{"/ldlp"}, CachePath: cache,
		Hwcaps: []string{"x86-64-v2"}, Dirs: []string{"/def"}}
	parent := &Needer{Rpath: []string{"/prpath"}, Origin: "/p"}
	tests := []struct {
		name string
		need string
		n    *Needer
		want []string
	}{
		{"path", "./a/libx.so.1", &Needer{Runpath: []string{"/r"}}, []string{"path ./a/libx.so.1"}},
		{"runpath", "libx.so.1", &Needer{Runpath: []string{"$ORIGIN/r"}, Rpath: []string{"/ignored"}, Origin: "/o", Parent: parent}, []string{
			"search path /host/glibc-hwcaps/x86-64-v2/libx.so.1", "search path /host/libx.so.1",
			"LD_LIBRARY_PATH /ldlp/glibc-hwcaps/x86-64-v2/libx.so.1", "LD_LIBRARY_PATH /ldlp/libx.so.1",
			"DT_RUNPATH /o/r/glibc-hwcaps/x86-64-v2/libx.so.1", "DT_RUNPATH /o/r/libx.so.1",
			"ld.so.cache /cached/libx.so.1",
			"default directory /def/glibc-hwcaps/x86-64-v2/libx.so.1", "default directory /def/libx.so.1",
		}},
		{"rpath chain", "liby.so", &Needer{Rpath: []string{"${ORIGIN}/lib", "$LIB/x"}, Origin: "/o", Parent: parent}, []string{
			"DT_RPATH /o/lib/glibc-hwcaps/x86-64-v2/liby.so", "DT_RPATH /o/lib/liby.so",
			"DT_RPATH /prpath/glibc-hwcaps/x86-64-v2/liby.so", "DT_RPATH /prpath/liby.so",
			"search path /host/glibc-hwcaps/x86-64-v2/liby.so", "search path /host/liby.so",
			"LD_LIBRARY_PATH /ldlp/glibc-hwcaps/x86-64-v2/liby.so", "LD_LIBRARY_PATH /ldlp/liby.so",
			"default directory /def/glibc-hwcaps/x86-64-v2/liby.so", "default directory /def/liby.so",
		}},
		{"no origin", "liby.so", &Needer{Runpath: []string{"$ORIGIN"}, NoDefaultLib: true}, []string{
			"search path /host/glibc-hwcaps/x86-64-v2/liby.so", "search path /host/liby.so",
			"LD_LIBRARY_PATH /ldlp/glibc-hwcaps/x86-64-v2/liby.so", "LD_LIBRARY_PATH /ldlp/liby.so",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := paths(s.Candidates(tt.need, tt.n))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
		})
	}
}

func TestExpandOrigin(t *testing.T) {
	tests := []struct {
		in, origin, want string
		ok               bool
	}{
		{"/abs", "", "/abs", true},
		{"$ORIGIN/../lib", "/a/b", "/a/b/../lib", true},
		{"${ORIGIN}x", "/a", "/ax", true},
		{"$ORIGINAL", "/a", "", false},
		{"$ORIGIN", "", "", false},
		{"$PLATFORM/x", "/a", "", false},
	}
	for _, tt := range tests {
		got, ok := ExpandOrigin(tt.in, tt.origin)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ExpandOrigin(%q, %q) = %q, %v", tt.in, tt.origin, got, ok)
		}
	}
}

func TestHwcapsFromFlags(t *testing.T) {
	v2 := []string{"cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"}
	v3 := append(append([]string(nil), v2...), "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave")
	v4 := append(append([]string(nil), v3...), "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")
	tests := []struct {
		flags []string
		want  []string
	}{
		{[]string{"sse2"}, nil},
		{v2, []string{"x86-64-v2"}},
		{v3, []string{"x86-64-v3", "x86-64-v2"}},
		{v4, []string{"x86-64-v4", "x86-64-v3", "x86-64-v2"}},
		{append(v2, "avx512f"), []string{"x86-64-v2"}},
	}
	for _, tt := range tests {
		if got := hwcapsFromFlags(tt.flags); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("hwcapsFromFlags(%q) = %q, want %q", tt.flags, got, tt.want)
		}
	}
}

// TestHwcapsMatchLdSo compares HwcapsSubdirs with what this machine's
// ld.so says it searches (`ld.so --help`).
func TestHwcapsMatchLdSo(t *testing.T) {
	ldso := "/lib64/ld-linux-x86-64.so.2"
	testenv.NeedFile(t, ldso, "libc6")
	out, err := exec.Command(ldso, "--help").Output()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "x86-64-v") && strings.Contains(line, "searched") {
			want = append(want, strings.Fields(line)[0])
		}
	}
	if got := HwcapsSubdirs(); !reflect.DeepEqual(got, want) {
		t.Errorf("HwcapsSubdirs() = %q; ld.so --help searches %q", got, want)
	}
}

// TestGlibcListMatchesPackage: every shared object Debian's libc6 package
// installs is in the list (the list may name more: libnss_db, built by
// glibc but not shipped by Debian).
func TestGlibcListMatchesPackage(t *testing.T) {
	dpkg := testenv.LookPath(t, "dpkg", "dpkg (a Debian or Ubuntu machine)")
	out, err := exec.Command(dpkg, "-L", "libc6").Output()
	if err != nil {
		testenv.Skipf(t, "dpkg -L libc6: %v", err)
	}
	n := 0
	for _, p := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(p, "/lib/x86_64-linux-gnu/") && !strings.HasPrefix(p, "/usr/lib/x86_64-linux-gnu/") {
			continue
		}
		if strings.Count(p, "/") != 3 && strings.Count(p, "/") != 4 || !strings.Contains(filepath.Base(p), ".so") {
			continue
		}
		if filepath.Dir(p) != "/lib/x86_64-linux-gnu" && filepath.Dir(p) != "/usr/lib/x86_64-linux-gnu" {
			continue
		}
		n++
		if !IsGlibc(p) {
			t.Errorf("libc6 installs %s, which IsGlibc does not know", p)
		}
	}
	if n < 15 {
		t.Errorf("only %d libraries in dpkg -L libc6", n)
	}
	if IsGlibc("libcrypt.so.1") || IsGlibc("libnss_systemd.so.2") || !IsGlibc("/x/libresolv.so.2") {
		t.Error("IsGlibc: wrong answer for libcrypt, libnss_systemd or a path")
	}
}

func TestHasGlibcStem(t *testing.T) {
	for name, want := range map[string]bool{
		"libresolv.so": true, "/usr/lib/x86_64-linux-gnu/libc.so": true, "libm.so.6": true,
		"libz.so.1": false, "libcrypt.so.1": false, "libmx.so": false,
	} {
		if got := HasGlibcStem(name); got != want {
			t.Errorf("HasGlibcStem(%q) = %v", name, got)
		}
	}
}
