package loader

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/ldso"
)

// FromHost is DepNode.From for one of glibc's own libraries: the host
// process provides it.
const FromHost = "host"

// maxDepNodes bounds the objects Dependencies describes.
const maxDepNodes = 512

// DepNode is one object of a dependency tree as a Loader resolves it
// (Dependencies): found by the same search, refused for the same reasons,
// but nothing is mapped and no code runs.
type DepNode struct {
	// Name is the object as named: a DT_NEEDED entry, or what was given
	// to Dependencies.
	Name string `json:"name"`
	// Path is the file found ("" when not found).
	Path string `json:"path,omitempty"`
	// From is the step of the search that found it (an ldso.From*
	// constant) or FromHost for one of glibc's own libraries.
	From string `json:"from,omitempty"`
	// Soname is its DT_SONAME.
	Soname string `json:"soname,omitempty"`
	// VersionNeeds lists, per needed file, the symbol versions its
	// imports ask for (DT_VERNEED), sorted.
	VersionNeeds map[string][]string `json:"version_needs,omitempty"`
	// Err is why a load would fail here: not found (ErrNotFound), or
	// refused (the reason: ErrTLS, elfimage.ErrUnsupported, ...). nil when
	// nothing this side of relocation is wrong with it.
	Err error `json:"-"`
	// Undefined lists the strong imports ("name" or "name@VERSION") that
	// nothing defines: not the object's scope (itself, then what it needs,
	// breadth-first), the Loader's host symbols and host functions, nor
	// glibc's libraries. The load would fail on the first (Err is then an
	// *UndefinedSymbolError unless something else is wrong first).
	Undefined []string `json:"undefined,omitempty"`
	// Error is Err's message, for JSON.
	Error string `json:"error,omitempty"`
	// Seen marks an object already described higher in the tree; its
	// Needs are not repeated.
	Seen bool `json:"seen,omitempty"`
	// Needs are its DT_NEEDED entries, in order.
	Needs []*DepNode `json:"needs,omitempty"`
}

// Dependencies describes how the Loader would resolve name (a path, or a
// name searched for as Load does) and everything it needs. Only reading
// the tree itself fails: each object's problems are in its DepNode.Err.
func (l *Loader) Dependencies(name string) (*DepNode, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, fmt.Errorf("loader: dependencies of %s: %w", name, ErrClosed)
	}
	w := &depWalk{l: l, seen: map[string]*DepNode{}}
	root := &DepNode{Name: name}
	switch soname, host := l.hostLibraryPath(name); {
	case host:
		root.From, root.Soname = FromHost, soname
		root.Path, _ = w.hostFile(soname)
		return root, nil
	case !strings.ContainsRune(name, '/'):
		w.find(root, l.search.Candidates(name, nil))
	default:
		root.Path, root.From = name, ldso.FromPath
		if abs, err := filepath.Abs(name); err == nil {
			root.Path = abs
		}
		w.file(root)
	}
	if root.Err != nil {
		root.Error = root.Err.Error()
		return root, nil
	}
	w.walk(root, nil)
	w.checkImports()
	return root, nil
}

// depWalk is one Dependencies call.
type depWalk struct {
	l     *Loader
	seen  map[string]*DepNode // by path
	n     int
	files map[*DepNode]*elfimage.File
}

// file parses and checks the object at n.Path, as the loader's openFile
// does; on success it remembers the parsed file.
func (w *depWalk) file(n *DepNode) {
	f, err := elfimage.ParseFile(n.Path)
	if err == nil {
		_, err = w.l.prepare(f)
		if err != nil {
			err = &RefusedError{Path: n.Path, Err: err}
		}
	}
	if err != nil {
		n.Err = err
		return
	}
	if w.files == nil {
		w.files = map[*DepNode]*elfimage.File{}
	}
	w.files[n] = f
	n.Soname = f.Dynamic.Soname
	n.VersionNeeds = versionNeeds(f.Dynamic)
}

// find tries the candidates in order, as Loader.dependency does.
func (w *depWalk) find(n *DepNode, cands []ldso.Candidate) {
	var lastErr error
	for _, c := range cands {
		if _, err := elfimage.ParseFile(c.Path); err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				lastErr = fmt.Errorf("%s: %w", c.Path, err)
			}
			continue
		}
		n.Path, n.From = c.Path, c.From
		if abs, err := filepath.Abs(c.Path); err == nil {
			n.Path = abs
		}
		w.file(n)
		return
	}
	n.Err = &NotFoundError{Name: n.Name, Tried: candidatePaths(cands), Err: lastErr}
}

// hostFile returns the file of the host's copy of glibc's library soname.
func (w *depWalk) hostFile(soname string) (string, *elfimage.File) {
	for _, c := range w.l.search.Candidates(soname, nil) {
		if f, err := elfimage.ParseFile(c.Path); err == nil && f.Dynamic != nil {
			return c.Path, f
		}
	}
	return "", nil
}

// walk fills n.Needs, depth-first; parent is the needer chain above n.
func (w *depWalk) walk(n *DepNode, parent *ldso.Needer) {
	f := w.files[n]
	if f == nil {
		return
	}
	d := f.Dynamic
	me := &ldso.Needer{Runpath: d.Runpath, Rpath: d.Rpath, NoDefaultLib: d.Flags1&elfDF1NoDefLib != 0,
		Origin: filepath.Dir(n.Path), Parent: parent}
	w.seen[n.Path] = n
	for _, need := range d.Needed {
		c := &DepNode{Name: need}
		n.Needs = append(n.Needs, c)
		if w.n++; w.n > maxDepNodes {
			c.Err = fmt.Errorf("more than %d objects in the tree: %w", maxDepNodes, elfimage.ErrUnsupported)
			c.Error = c.Err.Error()
			return
		}
		if ldso.IsGlibc(need) {
			c.From = FromHost
			var hf *elfimage.File
			if c.Path, hf = w.hostFile(need); hf != nil {
				c.Soname = hf.Dynamic.Soname
			}
			continue
		}
		w.find(c, w.l.search.Candidates(need, me))
		if c.Err != nil {
			c.Error = c.Err.Error()
			continue
		}
		if prev := w.seen[c.Path]; prev != nil {
			c.Seen = true
			continue
		}
		w.walk(c, me)
	}
}

// versionNeeds groups the versions d's imports ask for by file.
func versionNeeds(d *elfimage.Dynamic) map[string][]string {
	sets := map[string]map[string]bool{}
	for i := range d.Symbols {
		s := &d.Symbols[i]
		if s.Shndx != elf.SHN_UNDEF || s.Version == "" || s.VersionFile == "" {
			continue
		}
		if sets[s.VersionFile] == nil {
			sets[s.VersionFile] = map[string]bool{}
		}
		sets[s.VersionFile][s.Version] = true
	}
	if len(sets) == 0 {
		return nil
	}
	out := make(map[string][]string, len(sets))
	for file, vs := range sets {
		for v := range vs {
			out[file] = append(out[file], v)
		}
		sort.Strings(out[file])
	}
	return out
}

// checkImports fills Undefined (and Err) of every object walked.
func (w *depWalk) checkImports() {
	for _, n := range w.seen {
		f := w.files[n]
		scope := w.scope(n)
		for i := range f.Dynamic.Symbols {
			s := &f.Dynamic.Symbols[i]
			if i == 0 || s.Shndx != elf.SHN_UNDEF || s.Bind == elf.STB_WEAK || s.Name == "" || w.defined(s, scope) {
				continue
			}
			name := s.Name
			if s.Version != "" {
				name += "@" + s.Version
			}
			n.Undefined = append(n.Undefined, name)
			if n.Err == nil {
				obj := n.Soname
				if obj == "" {
					obj = filepath.Base(n.Path)
				}
				n.Err = &UndefinedSymbolError{Object: obj, Symbol: s.Name, Version: s.Version}
				n.Error = n.Err.Error()
			}
		}
	}
}

// scope returns the dynamic sections of n's lookup scope (n, then what it
// needs, breadth-first) and the glibc libraries they need.
func (w *depWalk) scope(n *DepNode) (sc depScope) {
	seen := map[*DepNode]bool{n: true}
	queue := []*DepNode{n}
	for q := 0; q < len(queue); q++ {
		cur := queue[q]
		sc.dyns = append(sc.dyns, w.files[cur].Dynamic)
		for _, c := range cur.Needs {
			if c.From == FromHost {
				sc.glibc = append(sc.glibc, c.Name)
				continue
			}
			if c.Seen {
				c = w.seen[c.Path]
			}
			if c != nil && !seen[c] && w.files[c] != nil {
				seen[c] = true
				queue = append(queue, c)
			}
		}
	}
	return sc
}

// depScope is what an object's imports may bind to.
type depScope struct {
	dyns  []*elfimage.Dynamic
	glibc []string
}

// defined reports whether import s binds to something, as resolve would
// bind it (resolve.go), short of running IFUNC resolvers.
func (w *depWalk) defined(s *elfimage.Symbol, sc depScope) bool {
	l := w.l
	if s.Name == tlsGetAddr {
		return true
	}
	if _, ok := l.hostSymbol(s.Name); ok {
		return true
	}
	if l.hostFuncRegistered(s.Name) {
		return true
	}
	for _, d := range sc.dyns {
		if _, ok := d.Lookup(s.Name, s.Version); ok {
			return true
		}
	}
	if s.Type == elf.STT_TLS || l.opts.NoHostC || (l.allowC != nil && !l.allowC[s.Name]) {
		return false
	}
	if _, ok := hostLookup(s.Name, s.Version); ok {
		return true
	}
	for _, need := range sc.glibc {
		if _, ok := lookupGlibc(need, s.Name, s.Version); ok {
			return true
		}
	}
	return false
}

// hostFuncRegistered reports whether RegisterHostFunc registered name.
func (l *Loader) hostFuncRegistered(name string) bool {
	l.host.mu.Lock()
	defer l.host.mu.Unlock()
	return l.host.fns[name] != nil
}
