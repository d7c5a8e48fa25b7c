package loader

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/sysmaps"
)

// spinInPlugin calls dbg_spin until d has passed: the Go caller the
// profile must show under the plugin's function.
//
//go:noinline
func spinInPlugin(t *testing.T, f *Func, d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		if _, err := f.Call(200000); err != nil {
			t.Fatal(err)
		}
	}
}

// TestProfileNamesPluginFunctions profiles a loop that spends its time in
// a plugin function and checks, with go tool pprof, that the function has
// most of the samples and that its samples' stacks run through the Go
// function that called it.
func TestProfileNamesPluginFunctions(t *testing.T) {
	if err := EnableProfiling(); err != nil {
		t.Fatal(err)
	}
	if err := EnableProfiling(); err != nil {
		t.Fatalf("second EnableProfiling: %v", err)
	}
	l := newLoader(t, Options{})
	p := load(t, l, "dbg_fn")
	f, err := p.Func("dbg_spin")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		t.Fatal(err)
	}
	spinInPlugin(t, f, 700*time.Millisecond)
	pprof.StopCPUProfile()
	// Close before the profile is read: the names must outlive the plugin.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("profiled")
	prof := filepath.Join(t.TempDir(), "cpu.pprof")
	if err := os.WriteFile(prof, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	top, err := exec.Command(goTool, "tool", "pprof", "-symbolize=none", "-top", prof).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof -top: %v\n%s", err, top)
	}
	// The first function line of -top is the one with most flat samples.
	var first string
	for _, line := range strings.Split(string(top), "\n") {
		if fields := strings.Fields(line); len(fields) == 6 && strings.HasSuffix(fields[1], "%") && fields[0] != "flat" {
			first = fields[5]
			break
		}
	}
	if first != "dbg_spin" {
		t.Errorf("hottest function is %q, want dbg_spin:\n%s", first, top)
	}
	t.Logf("top done")
	traces, err := exec.Command(goTool, "tool", "pprof", "-symbolize=none", "-traces", prof).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof -traces: %v\n%s", err, traces)
	}
	under := false
	for _, tr := range strings.Split(string(traces), "-----------+") {
		// The chunk starts with the rest of the separator line.
		lines := strings.Split(tr, "\n")
		if len(lines) < 3 || !strings.HasSuffix(strings.TrimSpace(lines[1]), " dbg_spin") {
			continue
		}
		if strings.Contains(tr, "loader.spinInPlugin") {
			under = true
			break
		}
	}
	if !under {
		t.Errorf("no sample stack has dbg_spin under loader.spinInPlugin:\n%s", traces)
	}
}

// TestPerfSymbolization checks what perf and addr2line rely on: a plugin's
// code is mapped from its file, so that an address turns into a file
// offset (/proc/self/maps), the offset into a virtual address (the file's
// program headers) and that into the function's symbol.
func TestPerfSymbolization(t *testing.T) {
	l := newLoader(t, Options{})
	path := plugintest.Build(t, "dbg_fn")
	p := load(t, l, "dbg_fn")
	ef, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	syms, err := ef.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	maps, err := sysmaps.Read()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"dbg_leaf", "dbg_entry", "dbg_spin"} {
		f, err := p.Func(name)
		if err != nil {
			t.Fatal(err)
		}
		pc := f.Addr() + 3 // inside the function, as a sample would be
		var m *sysmaps.Mapping
		for i := range maps {
			if maps[i].Contains(pc) {
				m = &maps[i]
			}
		}
		if m == nil || m.Path != path || !strings.Contains(m.Perms, "x") {
			t.Fatalf("%s at %#x: mapping %+v, want an executable mapping of %s", name, pc, m, path)
		}
		off := uint64(pc-m.Start) + m.Offset
		var vaddr uint64
		found := false
		for _, ph := range ef.Progs {
			if ph.Type == elf.PT_LOAD && off >= ph.Off && off < ph.Off+ph.Filesz {
				vaddr, found = off-ph.Off+ph.Vaddr, true
			}
		}
		if !found {
			t.Fatalf("%s: file offset %#x is in no PT_LOAD of %s", name, off, path)
		}
		got := ""
		for _, s := range syms {
			if elf.ST_TYPE(s.Info) == elf.STT_FUNC && vaddr >= s.Value && vaddr < s.Value+s.Size {
				got = s.Name
			}
		}
		if got != name {
			t.Errorf("address %#x -> file offset %#x -> vaddr %#x -> %q, want %q", pc, off, vaddr, got, name)
		}
	}
}
