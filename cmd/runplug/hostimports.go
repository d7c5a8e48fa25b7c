package main

import (
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/runplug/runplug/internal/dlsvc"
	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/ldso"
)

// Which imports must the host provide? Those that neither glibc's own
// libraries (what the loader resolves through dlsym) nor the
// libraries the object needs (directly or not) define: at load time only
// Options.HostSymbols or a host function (loader.RegisterHostFunc) can
// satisfy them.

// maxInspectDeps bounds the needed libraries inspect parses.
const maxInspectDeps = 64

// markHostImports sets Import.Host for the strong imports of f (the file
// at path) that nothing but the host can provide, and records in rep the
// needed libraries that could not be found (their symbols are then
// unknown). A weak import nothing defines is optional (it binds to 0, as
// the toolchain's _ITM_* and __gmon_start__ do): it is not marked.
func markHostImports(path string, f *elfimage.File, rep *Report) {
	if f.Dynamic == nil || len(rep.Imports) == 0 {
		return
	}
	libs, missing := neededClosure(path, f.Dynamic)
	rep.NeededMissing = missing
	// The host's glibc libraries, and those of glibc's the object or its
	// dependencies need (libresolv...), which the loader would have glibc
	// load.
	names := dlsvc.HostLibraryNames()
	for _, dd := range append([]*elfimage.Dynamic{f.Dynamic}, libs...) {
		for _, n := range dd.Needed {
			if ldso.IsGlibc(n) && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	var host []*dlsvc.HostLibrary
	for _, n := range names {
		if h, err := dlsvc.OpenHostLibrary(n); err == nil {
			host = append(host, h)
		}
	}
	for i := range rep.Imports {
		im := &rep.Imports[i]
		// A versioned import names its library (DT_VERNEED): one of the
		// needed ones, found or not, is not the host.
		fromNeeded := im.From != "" && !ldso.IsGlibc(im.From)
		im.Host = !im.Weak && !fromNeeded && !definedBy(im.Name, im.Version, libs, host)
		im.Builtin = im.Host && isBuiltin(im.Name)
	}
}

func definedBy(name, version string, libs []*elfimage.Dynamic, host []*dlsvc.HostLibrary) bool {
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
// (glibc's own excepted), with ld.so's search as the loader does it
// (package ldso). It returns their dynamic sections and the names it could
// not find or parse.
func neededClosure(path string, d *elfimage.Dynamic) (libs []*elfimage.Dynamic, missing []string) {
	type item struct {
		d      *elfimage.Dynamic
		needer *ldso.Needer
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	search := &ldso.Search{LibraryPath: ldso.SplitPath(os.Getenv("LD_LIBRARY_PATH"))}
	neederOf := func(d *elfimage.Dynamic, file string, parent *ldso.Needer) *ldso.Needer {
		return &ldso.Needer{Runpath: d.Runpath, Rpath: d.Rpath, Origin: filepath.Dir(file),
			NoDefaultLib: d.Flags1&elf.DF_1_NODEFLIB != 0, Parent: parent}
	}
	queue := []item{{d, neederOf(d, abs, nil)}}
	seen := map[string]bool{}
	for q := 0; q < len(queue) && len(libs) < maxInspectDeps; q++ {
		cur := queue[q]
		for _, need := range cur.d.Needed {
			if ldso.IsGlibc(need) || seen[need] {
				continue
			}
			seen[need] = true
			found := false
			for _, c := range search.Candidates(need, cur.needer) {
				f, err := parseFile(c.Path)
				if err != nil || f.Dynamic == nil {
					continue
				}
				libs = append(libs, f.Dynamic)
				queue = append(queue, item{f.Dynamic, neederOf(f.Dynamic, c.Path, cur.needer)})
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

// printHostImports is the "host functions" section of the text report.
func printHostImports(w io.Writer, rep *Report) {
	var hs []Import
	for _, im := range rep.Imports {
		if im.Host {
			hs = append(hs, im)
		}
	}
	fmt.Fprintf(w, "\nhost functions (%d): strong imports that neither glibc's libraries nor the needed libraries define; the host must provide them\n", len(hs))
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
