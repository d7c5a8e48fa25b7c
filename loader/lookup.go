package loader

import (
	"debug/elf"
	"sync"

	"github.com/runplug/runplug/elfmap"
	"github.com/runplug/runplug/ldso"
	"github.com/runplug/runplug/sandbox"
)

// Plugin.Lookup searches what dlsym searches on a handle: the object's
// search list, which is the object and everything it needs,
// breadth-first in DT_NEEDED order, glibc's own libraries (which the host
// provides, not runplug) included at their places. So Lookup("malloc") on
// libz finds libc's, after libz itself, as dlsym(handle) does.

// lookupNode is one object of a plugin's search list: a runplug object, or
// one of glibc's libraries as the host has it (obj nil).
type lookupNode struct {
	obj  *object
	host string // glibc's library's soname, when obj is nil
}

// searchList returns root's search list. The objects are linked (their
// deps final). It reads the files of the glibc libraries on the list now,
// at load time (glibcFileOf caches them): an isolated child may open
// files only while it loads. l.mu is held.
func searchList(root *object) []lookupNode {
	out := []lookupNode{{obj: root}}
	seenObj := map[*object]bool{root: true}
	seenHost := map[string]bool{}
	addHost := func(name string) {
		if !seenHost[name] {
			seenHost[name] = true
			out = append(out, lookupNode{host: name})
		}
	}
	for q := 0; q < len(out); q++ {
		n := out[q]
		if n.obj == nil {
			for _, need := range hostNeeded(n.host) {
				addHost(need)
			}
			continue
		}
		// o.deps holds the DT_NEEDED entries that are not glibc's, in
		// order (loadNew): walk both lists together.
		deps := n.obj.deps
		for _, need := range n.obj.p.file.Dynamic.Needed {
			if isHostLibrary(need) {
				addHost(need)
				continue
			}
			if len(deps) == 0 {
				break
			}
			d := deps[0]
			deps = deps[1:]
			if !seenObj[d] {
				seenObj[d] = true
				out = append(out, lookupNode{obj: d})
			}
		}
	}
	return out
}

// glibcFile is what Lookup reads of one of glibc's libraries as the host
// has it: its file's dynamic section (which names what it defines and
// needs), or nil when that cannot be read.
type glibcFile struct {
	h   *sandbox.HostLibrary
	dyn *elfmap.Dynamic
}

// glibcFiles caches glibcFile by soname: the host's copies never change
// for the life of the process.
var glibcFiles sync.Map // string -> *glibcFile

func glibcFileOf(soname string) *glibcFile {
	if v, ok := glibcFiles.Load(soname); ok {
		return v.(*glibcFile)
	}
	g := &glibcFile{}
	if h, err := sandbox.OpenHostLibrary(soname); err == nil {
		g.h = h
		if f, err := elfmap.ParseFile(h.Path()); err == nil {
			g.dyn = f.Dynamic
		}
	}
	v, _ := glibcFiles.LoadOrStore(soname, g)
	return v.(*glibcFile)
}

// hostNeeded returns the DT_NEEDED entries of glibc's library soname that
// are glibc's (all of them, in practice).
func hostNeeded(soname string) []string {
	g := glibcFileOf(soname)
	if g.dyn == nil {
		return nil
	}
	var needs []string
	for _, n := range g.dyn.Needed {
		if ldso.IsGlibc(n) {
			needs = append(needs, n)
		}
	}
	return needs
}

// glibcDefinition finds name (of version, "" for the default) among the
// definitions of glibc's library soname itself, not those of what it
// needs (one step of dlsym's search): the symbol from its file, the
// address from glibc's dlsym (an IFUNC's resolved target).
func glibcDefinition(soname, name, version string) (elfmap.Symbol, uintptr, bool) {
	g := glibcFileOf(soname)
	if g.dyn == nil || g.h == nil {
		return elfmap.Symbol{}, 0, false
	}
	h := newNameHash(name)
	i, ok := h.lookup(g.dyn, version)
	if !ok || g.dyn.Symbols[i].Shndx == elf.SHN_UNDEF {
		return elfmap.Symbol{}, 0, false
	}
	a, ok := g.h.Lookup(name, version)
	return g.dyn.Symbols[i], a, ok
}
