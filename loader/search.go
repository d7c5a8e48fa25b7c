package loader

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/dlsvc"
	"github.com/runplug/runplug/internal/ldso"
)

// The library search is ld.so's, as package ldso describes it: this file
// only maps the loader's objects onto it.

// isHostLibrary reports whether a DT_NEEDED name is one of glibc's own
// libraries, which the host process provides (see hostDependency).
func isHostLibrary(name string) bool { return ldso.IsGlibc(name) }

// newSearch returns the search of a Loader with options opts; LD_LIBRARY_PATH
// is read now.
func newSearch(opts Options) *ldso.Search {
	return &ldso.Search{
		SearchPath:  append([]string(nil), opts.SearchPath...),
		LibraryPath: ldso.SplitPath(os.Getenv("LD_LIBRARY_PATH")),
	}
}

// needer describes o to the search; parents maps each object of the load in
// progress to the one that needed it (for the DT_RPATH chain).
func needer(o *object, parents map[*object]*object) *ldso.Needer {
	var top, prev *ldso.Needer
	for seen := 0; o != nil && seen < 64; seen++ {
		d := o.p.file.Dynamic
		n := &ldso.Needer{Runpath: d.Runpath, Rpath: d.Rpath, NoDefaultLib: d.Flags1&elfDF1NoDefLib != 0}
		if o.path != "" {
			n.Origin = filepath.Dir(o.path)
		}
		if prev == nil {
			top = n
		} else {
			prev.Parent = n
		}
		prev = n
		o = parents[o]
	}
	return top
}

// elfDF1NoDefLib is DF_1_NODEFLIB.
const elfDF1NoDefLib = 0x800

// hostDependency makes sure the host has glibc's library need loaded
// (glibc loads it when it is not: libresolv, libnss_*), so that the
// imports of the objects needing it resolve against it (hostScopeLookup).
func hostDependency(need string) error {
	if _, err := dlsvc.OpenHostLibrary(need); err != nil {
		return fmt.Errorf("glibc's %s from the host: %w", need, err)
	}
	return nil
}

// hostScopeLookup finds an import of o in glibc's libraries that o's scope
// needs and that are not among the host's initial ones (hostLookup's, which
// has searched those already): libresolv for a plugin that needs it, say.
// Only consulted after hostLookup missed.
func hostScopeLookup(o *object, name, version string) (uintptr, bool) {
	for _, d := range o.scope {
		for _, need := range d.p.file.Dynamic.Needed {
			if !ldso.IsGlibc(need) || isInitialHostLib(need) {
				continue
			}
			if a, ok := lookupGlibc(need, name, version); ok {
				return a, true
			}
		}
	}
	return 0, false
}

// isHostCopy reports whether path is the host's copy of glibc's library
// (the file ld.so finds by that name), so that Load of it gives the host's
// library rather than a second copy; it returns the soname.
func (l *Loader) isHostCopy(path string) (string, bool) {
	name := filepath.Base(path)
	if !ldso.IsGlibc(name) {
		// A link such as libresolv.so -> libresolv.so.2 (the
		// development link) names the same file.
		if !ldso.HasGlibcStem(name) {
			return "", false
		}
		real, err := filepath.EvalSymlinks(path)
		if err != nil || !ldso.IsGlibc(real) {
			return "", false
		}
		name = filepath.Base(real)
	}
	var want unix.Stat_t
	if unix.Stat(path, &want) != nil {
		return "", false
	}
	for _, c := range l.search.Candidates(name, nil) {
		var st unix.Stat_t
		if unix.Stat(c.Path, &st) == nil {
			return name, st.Dev == want.Dev && st.Ino == want.Ino
		}
	}
	return "", false
}

// candidateRefused reports whether err, met opening a candidate file, is
// the refusal of an object that ld.so would have taken (a shared object of
// the right class and machine that runplug declines): the search stops
// there and reports it. Other errors (no such file, not ELF, another
// machine) let the search go on, as ld.so's does.
func candidateRefused(err error) bool {
	var re *RefusedError
	return errors.As(err, &re)
}

// candidatePaths lists the paths of cs.
func candidatePaths(cs []ldso.Candidate) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Path
	}
	return out
}

// loadByName maps the library name (no slash) for Load, found as dlopen
// finds it: the search of a DT_NEEDED entry of no object. l.mu is held.
func (l *Loader) loadByName(name string) (*object, error) {
	cands := l.search.Candidates(name, nil)
	var lastErr error
	for _, c := range cands {
		path, err := filepath.Abs(c.Path)
		if err != nil {
			path = c.Path
		}
		o, err := l.mapRoot(path, name)
		if err == nil {
			return o, nil
		}
		if candidateRefused(err) {
			return nil, err
		}
		if !errors.Is(err, os.ErrNotExist) {
			lastErr = fmt.Errorf("%s: %w", path, err)
		}
	}
	return nil, &NotFoundError{Name: name, Tried: candidatePaths(cands), Err: lastErr}
}

// hostLibraryPath reports whether Load(path) names one of glibc's own
// libraries as the host has it: a name ("libm.so.6") or the path of the
// host's copy. It returns the soname.
func (l *Loader) hostLibraryPath(path string) (string, bool) {
	if !strings.ContainsRune(path, '/') {
		return path, ldso.IsGlibc(path)
	}
	return l.isHostCopy(path)
}

// isInitialHostLib reports whether name is one of hostLookup's libraries.
func isInitialHostLib(name string) bool {
	for _, h := range hostLibs { // set once, before hostLookup's first search
		if h.Name() == name {
			return true
		}
	}
	return false
}

// lookupGlibc finds name (of version, "" for the default) in glibc's
// library need as the host has it (loaded by glibc if it was not).
func lookupGlibc(need, name, version string) (uintptr, bool) {
	h, err := dlsvc.OpenHostLibrary(need)
	if err != nil {
		return 0, false
	}
	return h.Lookup(name, version)
}
