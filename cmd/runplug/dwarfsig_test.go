package main

import (
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runplug/runplug/abi"
	"github.com/runplug/runplug/internal/callconv"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
)

// TestCallDWARF: without --sig, a plugin built with -g declares its own
// functions: arguments are converted (2 reaches half as 2.0), refused when
// missing or out of range, results read at their width; a function whose
// types call cannot pass falls back to the untyped syntax; --sig wins.
func TestCallDWARF(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	so := plugintest.Build(t, "call_dwarf")
	for _, tt := range []struct {
		args []string
		out  string
		code int
		want string // in stderr
	}{
		{args: []string{so, "half", "3"}, out: "1.5"},
		{args: []string{so, "half", "d:5"}, out: "2.5"},
		{args: []string{so, "scalef", "1.5", "4"}, out: "6"},
		{args: []string{so, "count_char", "banana", "97"}, out: "3"},
		{args: []string{so, "wrap8", "300"}, out: "44"},
		{args: []string{so, "sum_ints", "3", "1", "2", "3"}, out: "6"},
		{args: []string{so, "name_of", "0"}, out: "zero"},
		{args: []string{"--ret", "hex", so, "wrap8", "255"}, out: "0xffffffffffffffff"},
		{args: []string{so, "half"}, code: exitUsage, want: "half real (real) (DWARF): missing argument 1 (real x)"},
		{args: []string{so, "count_char", "banana", "1000"}, code: exitUsage, want: "1000 does not fit char"},
		{args: []string{"--ret", "double", so, "wrap8", "1"}, code: exitUsage, want: "--ret double does not read that result"},
		// A struct by value: no declaration, the untyped syntax as before.
		{args: []string{"--ret", "double", so, "pair_sum", "d:1", "d:2"}, out: "3"},
		{args: []string{"--sig", "double(double)", so, "half", "8"}, out: "4"},
	} {
		t.Run(strings.Join(tt.args[1:], " "), func(t *testing.T) {
			code, out, errs := runCmd(t, append([]string{"call"}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %q, stderr %q", code, tt.code, out, errs)
			}
			if tt.want != "" {
				if !strings.Contains(errs, tt.want) || strings.Count(errs, "\n") != 1 {
					t.Fatalf("stderr %q: want one line containing %q", errs, tt.want)
				}
				return
			}
			if errs != "" || out != tt.out+"\n" {
				t.Fatalf("stdout %q, stderr %q, want %q", out, errs, tt.out)
			}
		})
	}
}

// TestDWARFDeclHostile: dwarfDecl on files that are not what it expects
// (no DWARF, not ELF, a truncated object) gives no declaration, never a
// panic.
func TestDWARFDeclHostile(t *testing.T) {
	basic := plugintest.Build(t, "basic")
	so := plugintest.Build(t, "call_dwarf")
	for _, p := range append(truncatedCopy(t, so), basic, "/nonexistent", "/proc/self/status") {
		if fd, _ := dwarfDecl(p, "half"); fd != nil {
			t.Errorf("%s: a declaration %v", p, fd.Signature())
		}
	}
}

// truncatedCopy returns copies of so with its .debug_info overwritten by
// 0xff from its 12th byte (past the unit header's length and version) and
// with the file cut in half.
func truncatedCopy(t *testing.T, so string) []string {
	t.Helper()
	b, err := os.ReadFile(so)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(so)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sec := f.Section(".debug_info")
	if sec == nil || sec.Size < 64 {
		t.Fatalf("%s has no .debug_info: was it built with -g?", so)
	}
	bad := append([]byte(nil), b...)
	for i := sec.Offset + 12; i < sec.Offset+sec.Size; i++ {
		bad[i] = 0xff
	}
	dir := t.TempDir()
	corrupt, half := filepath.Join(dir, "corrupt.so"), filepath.Join(dir, "half.so")
	os.WriteFile(corrupt, bad, 0o644)
	os.WriteFile(half, b[:len(b)/2], 0o644)
	return []string{corrupt, half}
}

// FuzzDWARFDecl: any file gives a declaration or none, never a panic, and
// a declaration's types can be planned. Seeded with the -g fixture.
func FuzzDWARFDecl(f *testing.F) {
	if b, err := os.ReadFile(plugintest.Build(f, "call_dwarf")); err == nil {
		f.Add(b, "half")
		f.Add(b, "sum_ints")
	}
	f.Add([]byte("\x7fELF"), "half")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte, symbol string) {
		p := filepath.Join(dir, "fuzz.so")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		fd, _ := dwarfDecl(p, symbol)
		if fd == nil {
			return
		}
		args := make([]*abi.Type, len(fd.Params))
		for i, prm := range fd.Params {
			args[i] = prm.Type
		}
		if _, err := callconv.NewPlan(fd.Result, args...); err != nil && callconv.KindOf(fd.Result) != callconv.KindLongDouble {
			t.Fatalf("%s: plan: %v", fd.Signature(), err)
		}
	})
}
