package ldso

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/runplug/runplug/internal/testenv"
)

// LdconfigCache builds, in a temporary directory, a library libsc.so.1
// (sc returns 1) and its glibc-hwcaps/x86-64-v2 variant (sc returns 2), and
// an ld.so cache of that directory written by the machine's ldconfig. It
// returns the directory and the cache's path.
func ldconfigCache(t *testing.T) (dir, cache string) {
	t.Helper()
	cc := testenv.LookPath(t, "cc", "gcc")
	ldconfig, err := exec.LookPath("ldconfig")
	if err != nil {
		ldconfig = "/sbin/ldconfig"
	}
	testenv.NeedFile(t, ldconfig, "libc-bin")
	dir = t.TempDir()
	build := func(sub, ret string) {
		d := filepath.Join(dir, "lib", sub)
		os.MkdirAll(d, 0o755)
		src := filepath.Join(dir, "sc"+ret+".c")
		os.WriteFile(src, []byte("int sc(void) { return "+ret+"; }\n"), 0o644)
		out, err := exec.Command(cc, "-shared", "-fPIC", "-Wl,-soname,libsc.so.1", "-o", filepath.Join(d, "libsc.so.1"), src).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	build("", "1")
	build("glibc-hwcaps/x86-64-v2", "2")
	conf := filepath.Join(dir, "ld.so.conf")
	os.WriteFile(conf, []byte(filepath.Join(dir, "lib")+"\n"), 0o644)
	cache = filepath.Join(dir, "ld.so.cache")
	// -X: update no links (the trusted directories are scanned too).
	if out, err := exec.Command(ldconfig, "-X", "-C", cache, "-f", conf).CombinedOutput(); err != nil {
		t.Fatalf("ldconfig: %v: %s", err, out)
	}
	return dir, cache
}

// TestLdconfigCache parses a cache written by the machine's ldconfig, with
// a glibc-hwcaps entry, and looks the library up as ld.so would.
func TestLdconfigCache(t *testing.T) {
	dir, cache := ldconfigCache(t)
	c, err := ReadCache(cache)
	if err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "lib", "libsc.so.1")
	v2 := filepath.Join(dir, "lib", "glibc-hwcaps", "x86-64-v2", "libsc.so.1")
	for _, tt := range []struct {
		hwcaps []string
		want   string
	}{
		{nil, plain},
		{[]string{"x86-64-v2"}, v2},
		{[]string{"x86-64-v3", "x86-64-v2"}, v2},
	} {
		if got, _ := c.Lookup("libsc.so.1", tt.hwcaps, CacheFlags); got != tt.want {
			t.Errorf("Lookup(libsc.so.1, %q) = %q, want %q", tt.hwcaps, got, tt.want)
		}
	}
	s := &Search{CachePath: cache, Hwcaps: []string{}, Dirs: []string{}}
	if cs := s.Candidates("libsc.so.1", nil); len(cs) != 1 || cs[0].Path != plain || cs[0].From != FromCache {
		t.Errorf("Candidates = %+v", cs)
	}
}
