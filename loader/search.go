package loader

import (
	"path/filepath"
	"strings"
)

// systemDirs are the directories searched last, as ld.so does on a
// Debian-style multiarch x86-64 system (its cache, ld.so.cache, is not
// read).
var systemDirs = []string{
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
	"/lib64", "/usr/lib64", "/lib", "/usr/lib",
}

// hostFamily are the DT_NEEDED names the host process satisfies: the C
// library family, which is already loaded because runplug uses cgo.
var hostFamily = map[string]bool{
	"libc.so.6": true, "libm.so.6": true, "libpthread.so.0": true,
	"libdl.so.2": true, "librt.so.1": true, "ld-linux-x86-64.so.2": true,
}

// isHostLibrary reports whether a DT_NEEDED name is satisfied by the host.
func isHostLibrary(name string) bool { return hostFamily[name] }

// searchPaths returns the paths to try, in order, for the library named
// need (a DT_NEEDED entry) of an object whose runpath and rpath are given
// and whose file is in directory origin ("" when it has no file, as with
// LoadBytes: entries using $ORIGIN are then skipped). A name containing a
// slash is a path and is the only candidate. Otherwise the order is:
// DT_RPATH (only when there is no DT_RUNPATH) or DT_RUNPATH, then extra
// (the Loader's search path), then ldLibraryPath, then the system
// directories. Empty entries (which ld.so takes as the current directory)
// are skipped, and so are duplicates.
func searchPaths(need string, runpath, rpath []string, origin string, extra, ldLibraryPath []string) []string {
	if strings.ContainsRune(need, '/') {
		return []string{need}
	}
	dirs := runpath
	if len(dirs) == 0 {
		dirs = rpath
	}
	n := len(dirs) + len(extra) + len(ldLibraryPath) + len(systemDirs)
	out := make([]string, 0, n)
	seen := make(map[string]bool, n)
	add := func(dir string, expand bool) {
		if expand {
			var ok bool
			if dir, ok = expandOrigin(dir, origin); !ok {
				return
			}
		}
		if dir == "" {
			return
		}
		p := filepath.Join(dir, need)
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, d := range dirs {
		add(d, true)
	}
	for _, list := range [][]string{extra, ldLibraryPath, systemDirs} {
		for _, d := range list {
			add(d, false)
		}
	}
	return out
}

// expandOrigin replaces $ORIGIN and ${ORIGIN} in a DT_RUNPATH or DT_RPATH
// entry by origin. ok is false when the entry uses $ORIGIN and origin is
// unknown, or uses another dynamic string token ($LIB, $PLATFORM), which
// is not supported: such entries are skipped.
func expandOrigin(dir, origin string) (string, bool) {
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

// splitList splits a colon-separated list (LD_LIBRARY_PATH), dropping
// empty entries.
func splitList(s string) []string {
	var out []string
	for _, d := range strings.Split(s, ":") {
		if d != "" {
			out = append(out, d)
		}
	}
	return out
}
