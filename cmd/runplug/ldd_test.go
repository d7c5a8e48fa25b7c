package main

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
)

// TestLdd: the tree of a plugin with a dependency found through
// DT_RUNPATH $ORIGIN, in text and JSON, and glibc's libraries from the
// host.
func TestLdd(t *testing.T) {
	path := plugintest.Build(t, "dep_a")
	code, out, errs := runCmd(t, "ldd", path)
	if code != exitOK || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.HasPrefix(lines[0], path+" => ") {
		t.Errorf("first line %q", lines[0])
	}
	if !strings.Contains(out, "dep_b.so => ") || !strings.Contains(out, "(DT_RUNPATH)") {
		t.Errorf("output:\n%s", out)
	}
	code, out, _ = runCmd(t, "ldd", "--json", path)
	if code != exitOK {
		t.Fatalf("--json: exit %d", code)
	}
	var root struct {
		Name  string
		Needs []struct{ Name, From, Path string }
	}
	if err := json.Unmarshal([]byte(out), &root); err != nil {
		t.Fatal(err)
	}
	froms := map[string]string{}
	for _, n := range root.Needs {
		froms[n.Name] = n.From
	}
	if froms["dep_b.so"] != "DT_RUNPATH" {
		t.Errorf("needs %+v", root.Needs)
	}
	// glibc's own libraries: the host's.
	code, out, _ = runCmd(t, "ldd", plugintest.Build(t, "search_resolv"))
	if code != exitOK || !strings.Contains(out, "    libresolv.so.2 => host /") {
		t.Errorf("search_resolv: exit %d, output:\n%s", code, out)
	}
}

// TestLddRefused: a dependency found but refused is reported with its
// reason, and the exit status says so.
func TestLddRefused(t *testing.T) {
	code, out, _ := runCmd(t, "ldd", plugintest.Build(t, "search_refused_dep"))
	if code != exitError {
		t.Errorf("exit %d, want %d", code, exitError)
	}
	if !strings.Contains(out, "reloc_textrel.so => ") || !strings.Contains(out, "REFUSED") || !strings.Contains(out, "DT_TEXTREL") {
		t.Errorf("output:\n%s", out)
	}
}

// TestLddByName: a name is searched for as dlopen does; glibc's own is the
// host's.
func TestLddByName(t *testing.T) {
	needLibz(t)
	code, out, errs := runCmd(t, "ldd", "libz.so.1")
	if code != exitOK || !strings.HasPrefix(out, "libz.so.1 => /") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	code, out, _ = runCmd(t, "ldd", "libm.so.6")
	if code != exitOK || !strings.HasPrefix(out, "libm.so.6 => host /") {
		t.Errorf("libm: exit %d, stdout %q", code, out)
	}
	code, _, _ = runCmd(t, "ldd", "libno-such-library.so.7")
	if code != exitError {
		t.Errorf("missing library: exit %d", code)
	}
}

// TestCallAndInspectByName: call and inspect take a name.
func TestCallAndInspectByName(t *testing.T) {
	needLibz(t)
	if got := callOK(t, "--ret", "str", "libz.so.1", "zlibVersion"); got == "" || got[0] < '1' || got[0] > '9' {
		t.Errorf("zlibVersion = %q", got)
	}
	if got := callOK(t, "--ret", "double", "libm.so.6", "cos", "d:0"); got != "1" {
		t.Errorf("cos(0) = %q", got)
	}
	code, out, errs := runCmd(t, "inspect", "libz.so.1")
	if code != exitOK || !strings.Contains(out, "soname:     libz.so.1") {
		t.Errorf("inspect: exit %d, stderr %q, stdout %.200q", code, errs, out)
	}
}

// TestFindObjectParsesInPlace: finding a library by name checks each
// candidate through the loader's cache of parsed files (in place: no
// symbol or string table decoded into the heap), so `call NAME` reads
// the file's tables once, where the load maps them.
func TestFindObjectParsesInPlace(t *testing.T) {
	const lib = "/lib/x86_64-linux-gnu/libsqlite3.so.0"
	testenv.NeedFile(t, lib, "apt-get install libsqlite3-0")
	if _, err := findObject("libsqlite3.so.0", nil); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 5
	for range n {
		if _, err := findObject("libsqlite3.so.0", nil); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	perLookup := (after.TotalAlloc - before.TotalAlloc) / n
	t.Logf("%d bytes allocated per lookup", perLookup)
	// Decoding libsqlite3's tables allocated about 300 KB.
	if perLookup > 16<<10 {
		t.Errorf("findObject allocated %d bytes: a candidate was decoded, not parsed in place through the cache", perLookup)
	}
}
