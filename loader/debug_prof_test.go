package loader

import (
	"bytes"
	"context"
	"debug/elf"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/sysmaps"
)

// spinInPlugin calls f(arg) until d has passed: the Go caller the
// profile must show under the plugin's function.
//
//go:noinline
func spinInPlugin(t *testing.T, f *Func, arg uint64, d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		if _, err := f.Call(arg); err != nil {
			t.Fatal(err)
		}
	}
}

// profileCalls returns the samples of a CPU profile of f(arg) called for
// d.
func profileCalls(t *testing.T, f *Func, arg uint64, d time.Duration) []profSample {
	t.Helper()
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		t.Fatal(err)
	}
	spinInPlugin(t, f, arg, d)
	pprof.StopCPUProfile()
	samples, err := parseProfile(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return samples
}

// TestProfileNamesPluginFunctions profiles a loop that spends its time in
// a plugin function and checks, with go tool pprof, that the function has
// most of the samples and that its samples' stacks run through the Go
// function that called it.
func TestProfileNamesPluginFunctions(t *testing.T) {
	// Loaded before profiling is turned on: its names are added then.
	l := newLoader(t, Options{})
	p := load(t, l, "dbg_fn")
	if err := EnableProfiling(); err != nil {
		t.Fatal(err)
	}
	if err := EnableProfiling(); err != nil {
		t.Fatalf("second EnableProfiling: %v", err)
	}
	f, err := p.Func("dbg_spin")
	if err != nil {
		t.Fatal(err)
	}
	fill, err := p.Func("dbg_fill")
	if err != nil {
		t.Fatal(err)
	}
	samples := profileCalls(t, f, 200000, 700*time.Millisecond)
	fillSamples := profileCalls(t, fill, 100, 500*time.Millisecond)
	// Close before the profiles are read: the names must outlive the
	// plugin. (They were read above; what is checked here is the names
	// the runtime got from the symbolizer while writing them, so reading
	// after Close needs no second run: see TestProfTable.)
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Flat samples per function (the innermost frame of each sample);
	// the plugin's hot function must be reached from dbg_spin (a frame
	// pointer walk through plugin code) and from its Go caller.
	flat := map[string]int64{}
	var total, hot, viaSpin, underGo int64
	for _, s := range samples {
		if len(s.funcs) == 0 {
			continue
		}
		total += s.value
		flat[s.funcs[0]] += s.value
		if s.funcs[0] != "dbg_spin_inner" {
			continue
		}
		hot += s.value
		if len(s.funcs) > 1 && s.funcs[1] == "dbg_spin" {
			viaSpin += s.value
		}
		for _, fn := range s.funcs[1:] {
			if strings.HasSuffix(fn, "loader.spinInPlugin") {
				underGo += s.value
				break
			}
		}
	}
	for fn, v := range flat {
		if v > hot {
			t.Errorf("%s has more samples (%d) than dbg_spin_inner (%d): %v", fn, v, hot, flat)
		}
	}
	if hot == 0 || hot*2 < total {
		t.Errorf("dbg_spin_inner has %d of %d samples, want most: %v", hot, total, flat)
	}
	if underGo != hot {
		t.Errorf("%d of dbg_spin_inner's %d samples are not under loader.spinInPlugin", hot-underGo, hot)
	}
	// A sample taken in dbg_spin_inner's first instructions, before it
	// set its frame pointer, misses dbg_spin: allow a few.
	if viaSpin*10 < hot*9 {
		t.Errorf("only %d of dbg_spin_inner's %d samples show dbg_spin as its caller: %v", viaSpin, hot, samples[0].funcs)
	}
	t.Logf("dbg_spin_inner: %d of %d samples, %d under dbg_spin, all under the Go caller", hot, total, viaSpin)

	// Samples in libc's memset, called by dbg_fill: the plugin function
	// is found above the libc frame (which has no name here).
	var fillTotal, inFill int64
	for _, s := range fillSamples {
		fillTotal += s.value
		for _, fn := range s.funcs {
			if fn == "dbg_fill" {
				inFill += s.value
				break
			}
		}
	}
	if fillTotal == 0 || inFill*2 < fillTotal {
		t.Errorf("dbg_fill is on the stack of %d of %d samples of a loop over it, want most", inFill, fillTotal)
	}
	t.Logf("dbg_fill (calling memset): on %d of %d samples", inFill, fillTotal)
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
