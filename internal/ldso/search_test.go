package ldso

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
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
	os.WriteFile(cache, buildCache([]entry{{"libx.so.1", "/cached/libx.so.1", CacheFlags, "", 0}}, nil, false), 0o644)
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

// TestHwcapsFor: each level needs all of its own features and all of the
// levels below it; FMA and F16C without usable AVX do not make v3.
func TestHwcapsFor(t *testing.T) {
	v2 := isaFeatures{CX16: true, LAHF: true, POPCNT: true, SSE3: true, SSSE3: true, SSE41: true, SSE42: true}
	v3 := v2
	v3.AVX, v3.AVX2, v3.BMI1, v3.BMI2, v3.F16C, v3.FMA, v3.LZCNT, v3.MOVBE = true, true, true, true, true, true, true, true
	v4 := v3
	v4.AVX512F, v4.AVX512BW, v4.AVX512CD, v4.AVX512DQ, v4.AVX512VL = true, true, true, true, true
	without := func(f isaFeatures, change func(*isaFeatures)) isaFeatures {
		change(&f)
		return f
	}
	tests := []struct {
		name string
		f    isaFeatures
		want []string
	}{
		{"baseline", isaFeatures{}, nil},
		{"v2", v2, []string{"x86-64-v2"}},
		{"v2 without lahf", without(v2, func(f *isaFeatures) { f.LAHF = false }), nil},
		{"v3", v3, []string{"x86-64-v3", "x86-64-v2"}},
		{"v3 without lzcnt (abm)", without(v3, func(f *isaFeatures) { f.LZCNT = false }), []string{"x86-64-v2"}},
		{"v3 without usable avx", without(v3, func(f *isaFeatures) { f.AVX = false }), []string{"x86-64-v2"}},
		{"v4", v4, []string{"x86-64-v4", "x86-64-v3", "x86-64-v2"}},
		{"v4 without avx512vl", without(v4, func(f *isaFeatures) { f.AVX512VL = false }), []string{"x86-64-v3", "x86-64-v2"}},
		{"avx512 without v3", without(v4, func(f *isaFeatures) { f.MOVBE = false }), []string{"x86-64-v2"}},
		{"avx512 without v2", without(v4, func(f *isaFeatures) { f.CX16 = false }), nil},
	}
	for _, tt := range tests {
		if got := hwcapsFor(tt.f); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: hwcapsFor = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestHwcapsMatchLdSo compares HwcapsSubdirs with what this machine's
// ld.so says it searches (`ld.so --help`).
func TestHwcapsMatchLdSo(t *testing.T) {
	ldso := Interp
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
	// The running architecture's package by name (Debian's architecture
	// names are Go's for amd64 and arm64): with another architecture's
	// libc6 installed too (multiarch, or the arm64 job under qemu-user),
	// "libc6" alone is ambiguous and dpkg -L refuses it.
	pkg := "libc6:" + runtime.GOARCH
	triplet := Multiarch
	out, err := exec.Command(dpkg, "-L", pkg).Output()
	if err != nil {
		t.Fatalf("dpkg -L %s: %v", pkg, err)
	}
	lib, usrLib := "/lib/"+triplet, "/usr/lib/"+triplet
	n := 0
	for _, p := range strings.Split(string(out), "\n") {
		if filepath.Dir(p) != lib && filepath.Dir(p) != usrLib || !strings.Contains(filepath.Base(p), ".so") {
			continue
		}
		n++
		if !IsGlibc(p) {
			t.Errorf("%s installs %s, which IsGlibc does not know", pkg, p)
		}
	}
	if n < 15 {
		t.Errorf("only %d libraries in dpkg -L %s", n, pkg)
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
