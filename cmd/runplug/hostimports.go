package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/runplug/runplug/elfmap"
	"github.com/runplug/runplug/sandbox"
)

// Which imports must the host provide? Those that neither the host's C
// library family (what the loader resolves through dlsym) nor the
// libraries the object needs (directly or not) define: at load time only
// Options.HostSymbols or a host function (loader.RegisterHostFunc) can
// satisfy them.

// maxInspectDeps bounds the needed libraries inspect parses.
const maxInspectDeps = 64

// hostSystemDirs are the directories the loader searches last.
var hostSystemDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}

// libcFamily are the DT_NEEDED names the host process satisfies.
var libcFamily = map[string]bool{
	"libc.so.6": true, "libm.so.6": true, "libpthread.so.0": true, "libdl.so.2": true,
	"librt.so.1": true, "ld-linux-x86-64.so.2": true,
}

// markHostImports sets Import.Host for the strong imports of f (the file
// at path) that nothing but the host can provide, and records in rep the
// needed libraries that could not be found (their symbols are then
// unknown). A weak import nothing defines is optional (it binds to 0, as
// the toolchain's _ITM_* and __gmon_start__ do): it is not marked.
func markHostImports(path string, f *elfmap.File, rep *Report) {
	if f.Dynamic == nil || len(rep.Imports) == 0 {
		return
	}
	libs, missing := neededClosure(path, f.Dynamic)
	rep.NeededMissing = missing
	var host []*sandbox.HostLibrary
	for _, n := range sandbox.HostLibraryNames() {
		if h, err := sandbox.OpenHostLibrary(n); err == nil {
			host = append(host, h)
		}
	}
	for i := range rep.Imports {
		im := &rep.Imports[i]
		// A versioned import names its library (DT_VERNEED): one of the
		// needed ones, found or not, is not the host.
		fromNeeded := im.From != "" && !libcFamily[im.From]
		im.Host = !im.Weak && !fromNeeded && !definedBy(im.Name, im.Version, libs, host)
		im.Builtin = im.Host && isBuiltin(im.Name)
	}
}

func definedBy(name, version string, libs []*elfmap.Dynamic, host []*sandbox.HostLibrary) bool {
	for _, d := range libs {
		if _, ok := d.Lookup(name, version); ok {
			return true
		}
	}
	for _, h := range host {
		if _, ok := h.Lookup(name, version); ok {
			return true
		}
		if version != "" { // an unversioned host definition satisfies a versioned import too
			if _, ok := h.Lookup(name, ""); ok {
				return true
			}
		}
	}
	return false
}

func isBuiltin(name string) bool {
	_, ok := builtinHostFuncs(io.Discard)[name]
	return ok
}

// neededClosure finds and parses the libraries d needs, breadth-first
// (the C library family excepted), searching as the loader does:
// DT_RUNPATH (or DT_RPATH) with $ORIGIN, LD_LIBRARY_PATH, the system
// directories. It returns their dynamic sections and the names it could
// not find or parse.
func neededClosure(path string, d *elfmap.Dynamic) (libs []*elfmap.Dynamic, missing []string) {
	type item struct {
		d      *elfmap.Dynamic
		origin string
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	queue := []item{{d, filepath.Dir(abs)}}
	seen := map[string]bool{}
	ld := filepath.SplitList(os.Getenv("LD_LIBRARY_PATH"))
	for q := 0; q < len(queue) && len(libs) < maxInspectDeps; q++ {
		cur := queue[q]
		for _, need := range cur.d.Needed {
			if libcFamily[need] || seen[need] {
				continue
			}
			seen[need] = true
			found := false
			for _, cand := range candidates(need, cur.d, cur.origin, ld) {
				f, err := parseFile(cand)
				if err != nil || f.Dynamic == nil {
					continue
				}
				libs = append(libs, f.Dynamic)
				queue = append(queue, item{f.Dynamic, filepath.Dir(cand)})
				found = true
				break
			}
			if !found {
				missing = append(missing, need)
			}
		}
	}
	sort.Strings(missing)
	return libs, missing
}

// candidates lists the paths to try for need, needed by an object with
// dynamic section d in directory origin.
func candidates(need string, d *elfmap.Dynamic, origin string, ld []string) []string {
	if strings.ContainsRune(need, '/') {
		return []string{need}
	}
	dirs := d.Runpath
	if len(dirs) == 0 {
		dirs = d.Rpath
	}
	var out []string
	for _, dir := range dirs {
		dir = strings.ReplaceAll(strings.ReplaceAll(dir, "${ORIGIN}", origin), "$ORIGIN", origin)
		if dir != "" && !strings.Contains(dir, "$") {
			out = append(out, filepath.Join(dir, need))
		}
	}
	for _, list := range [][]string{ld, hostSystemDirs} {
		for _, dir := range list {
			if dir != "" {
				out = append(out, filepath.Join(dir, need))
			}
		}
	}
	return out
}

// printHostImports is the "host functions" section of the text report.
func printHostImports(w io.Writer, rep *Report) {
	var hs []Import
	for _, im := range rep.Imports {
		if im.Host {
			hs = append(hs, im)
		}
	}
	fmt.Fprintf(w, "\nhost functions (%d): strong imports that neither the C library family nor the needed libraries define; the host must provide them\n", len(hs))
	if len(rep.NeededMissing) > 0 {
		fmt.Fprintf(w, "  (needed libraries not found, their symbols are not known: %s)\n", strings.Join(rep.NeededMissing, ", "))
	}
	if len(hs) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tPROVIDED BY")
	for _, im := range hs {
		by := "-"
		if im.Builtin {
			by = "runplug call (built-in)"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", im.Name, by)
	}
	tw.Flush()
}
