package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/pcall"
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
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
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
