package loader

import (
	"sync"

	"github.com/runplug/runplug/internal/dlsvc"
	"github.com/runplug/runplug/internal/ldso"
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
// deps final). l.mu is held.
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

// hostNeededCache maps a glibc library's soname to its DT_NEEDED entries
// that are glibc's (all of them, in practice): the host's copies never
// change for the life of the process.
var hostNeededCache sync.Map // string -> []string

// hostNeeded returns the DT_NEEDED entries of glibc's library soname as
// the host has it (read from its dynamic section in memory: an isolated
// child may open no file once loaded).
func hostNeeded(soname string) []string {
	if v, ok := hostNeededCache.Load(soname); ok {
		return v.([]string)
	}
	var needs []string
	if h, err := dlsvc.OpenHostLibrary(soname); err == nil {
		for _, n := range h.Needed() {
			if ldso.IsGlibc(n) {
				needs = append(needs, n)
			}
		}
	}
	v, _ := hostNeededCache.LoadOrStore(soname, needs)
	return v.([]string)
}
