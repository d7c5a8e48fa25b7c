package ldso

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
)

// DefaultDirs are the directories ld.so searches last on Debian and
// Ubuntu (`ld.so --help`, "system search path"): glibc's slibdir and
// libdir (/lib/x86_64-linux-gnu and /usr/lib/x86_64-linux-gnu on x86-64),
// then /lib and /usr/lib.
var DefaultDirs = []string{"/lib/" + Multiarch, "/usr/lib/" + Multiarch, "/lib", "/usr/lib"}

// Where a candidate path comes from, in the order ld.so tries them.
const (
	FromPath        = "path"            // the name has a slash
	FromRpath       = "DT_RPATH"        // of the needer, then of its needers
	FromSearchPath  = "search path"     // the host's directories (Search.SearchPath)
	FromLibraryPath = "LD_LIBRARY_PATH" // Search.LibraryPath
	FromRunpath     = "DT_RUNPATH"      // of the needer only
	FromCache       = "ld.so.cache"
	FromDefault     = "default directory"
)

// Needer is what the search needs to know of the object whose DT_NEEDED
// entry is looked for.
type Needer struct {
	Runpath []string // DT_RUNPATH entries
	Rpath   []string // DT_RPATH entries (used only when Runpath is empty)
	// Origin is the directory of the object's file, what $ORIGIN expands
	// to; "" when unknown (an object loaded from memory): entries that
	// use $ORIGIN are then skipped.
	Origin string
	// NoDefaultLib is DF_1_NODEFLIB: neither the default directories nor
	// cache entries inside them are used.
	NoDefaultLib bool
	// Parent is the object that needed this one (nil for the object the
	// host loaded): ld.so also tries the DT_RPATH of each needer up the
	// chain, as long as the object looked for from has no DT_RUNPATH.
	Parent *Needer
}

// Candidate is a path to try, and which step of the search gave it.
type Candidate struct {
	Path string
	From string // one of the From* constants
}

// Search is ld.so's library search, configured once. The zero value
// searches like ld.so with an empty LD_LIBRARY_PATH. Its methods are safe
// for concurrent use; the cache is read once, on first use.
type Search struct {
	// SearchPath are directories the host adds (runplug's
	// Options.SearchPath), tried just before LibraryPath.
	SearchPath []string
	// LibraryPath is LD_LIBRARY_PATH, split (see SplitPath).
	LibraryPath []string
	// CachePath is the ld.so cache to read: "" is DefaultCachePath,
	// "none" reads no cache.
	CachePath string
	// Hwcaps are the glibc-hwcaps subdirectories to try, highest priority
	// first; nil is HwcapsSubdirs(). An empty non-nil slice tries none.
	Hwcaps []string
	// Dirs are the default directories; nil is DefaultDirs.
	Dirs []string

	once     sync.Once
	cache    *Cache
	cacheErr error
}

// Cache returns the ld.so cache the search reads (read on first use) and
// the error that reading it met (a missing cache is no error: ld.so goes
// on without one). A bad cache is ignored by the search, as ld.so does.
// CachePath "" shares the process's SystemCache.
func (s *Search) Cache() (*Cache, error) {
	s.once.Do(func() {
		switch s.CachePath {
		case "none":
		case "":
			s.cache, s.cacheErr = SystemCache()
		default:
			s.cache, s.cacheErr = readCacheOrNone(s.CachePath)
		}
	})
	return s.cache, s.cacheErr
}

var (
	systemOnce     sync.Once
	systemCache    *Cache
	systemCacheErr error
)

// SystemCache returns DefaultCachePath parsed, read once per process on
// first use (ld.so too reads it once). A missing cache is (nil, nil).
func SystemCache() (*Cache, error) {
	systemOnce.Do(func() { systemCache, systemCacheErr = readCacheOrNone(DefaultCachePath) })
	return systemCache, systemCacheErr
}

func readCacheOrNone(path string) (*Cache, error) {
	c, err := ReadCache(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return c, err
}

func (s *Search) hwcaps() []string {
	if s.Hwcaps != nil {
		return s.Hwcaps
	}
	return HwcapsSubdirs()
}

func (s *Search) dirs() []string {
	if s.Dirs != nil {
		return s.Dirs
	}
	return DefaultDirs
}

// Candidates returns the paths ld.so would try, in order, for the library
// name needed by n (nil: loaded by the host, as dlopen): the first that
// holds an object of the right class and machine is the one. A name with
// a slash is a path, the only candidate. Otherwise (glibc 2.36,
// elf/dl-load.c, _dl_map_object): DT_RPATH of n and of its needers up the
// chain, unless n has a DT_RUNPATH; SearchPath; LD_LIBRARY_PATH; n's
// DT_RUNPATH; the ld.so cache; the default directories (neither of the
// last two inside the default directories when n has DF_1_NODEFLIB). In
// every directory of those lists, the glibc-hwcaps subdirectories come
// first (dir/glibc-hwcaps/x86-64-v3/name before dir/name). A path is
// listed once, at its first place.
func (s *Search) Candidates(name string, n *Needer) []Candidate {
	if strings.ContainsRune(name, '/') {
		return []Candidate{{Path: name, From: FromPath}}
	}
	hw := s.hwcaps()
	var out []Candidate
	seen := map[string]bool{}
	add := func(p, from string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, Candidate{Path: p, From: from})
		}
	}
	addDir := func(dir, from string) {
		if dir == "" {
			return
		}
		for _, h := range hw {
			add(filepath.Join(dir, "glibc-hwcaps", h, name), from)
		}
		add(filepath.Join(dir, name), from)
	}
	addList := func(list []string, origin, from string) {
		for _, d := range list {
			if d, ok := ExpandOrigin(d, origin); ok {
				addDir(d, from)
			}
		}
	}
	if n == nil || len(n.Runpath) == 0 {
		for m := n; m != nil; m = m.Parent {
			if len(m.Runpath) == 0 {
				addList(m.Rpath, m.Origin, FromRpath)
			}
		}
	}
	for _, d := range s.SearchPath {
		addDir(d, FromSearchPath)
	}
	for _, d := range s.LibraryPath {
		addDir(d, FromLibraryPath)
	}
	if n != nil {
		addList(n.Runpath, n.Origin, FromRunpath)
	}
	nodef := n != nil && n.NoDefaultLib
	if c, _ := s.Cache(); c != nil {
		if p, ok := c.Lookup(name, hw, CacheFlags); ok && !(nodef && s.inDefaultDir(p)) {
			add(p, FromCache)
		}
	}
	if !nodef {
		for _, d := range s.dirs() {
			addDir(d, FromDefault)
		}
	}
	return out
}

// inDefaultDir reports whether p is inside one of the default directories.
func (s *Search) inDefaultDir(p string) bool {
	for _, d := range s.dirs() {
		if filepath.Dir(p) == filepath.Clean(d) {
			return true
		}
	}
	return false
}

// ExpandOrigin replaces $ORIGIN and ${ORIGIN} in a DT_RUNPATH or DT_RPATH
// entry by origin. ok is false when the entry uses $ORIGIN and origin is
// "", or uses another dynamic string token ($LIB, $PLATFORM), which is not
// supported: such entries are skipped.
func ExpandOrigin(dir, origin string) (string, bool) {
	if !strings.Contains(dir, "$") {
		return dir, true
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(dir, '$')
		if i < 0 {
			b.WriteString(dir)
			break
		}
		b.WriteString(dir[:i])
		rest := dir[i+1:]
		var tok string
		switch {
		case strings.HasPrefix(rest, "{ORIGIN}"):
			tok = "{ORIGIN}"
		case strings.HasPrefix(rest, "ORIGIN") && !isIdentByte(rest, len("ORIGIN")):
			tok = "ORIGIN"
		default:
			return "", false
		}
		if origin == "" {
			return "", false
		}
		b.WriteString(origin)
		dir = rest[len(tok):]
	}
	return b.String(), true
}

// isIdentByte reports whether s[i] exists and could continue a token name.
func isIdentByte(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	c := s[i]
	return c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

// SplitPath splits a colon-separated list (LD_LIBRARY_PATH), dropping
// empty entries (see the package doc).
func SplitPath(s string) []string {
	var out []string
	for _, d := range strings.Split(s, ":") {
		if d != "" {
			out = append(out, d)
		}
	}
	return out
}
