package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/runplug/runplug/internal/ldso"
	"github.com/runplug/runplug/loader"
)

// objectArg returns what to load for a FILE|NAME argument: a path as it
// is; a name without a slash that is a file in the current directory as
// ./NAME (what the command always did with it); else the name itself, which
// the loader searches for as dlopen does.
func objectArg(arg string) string {
	if strings.ContainsRune(arg, '/') {
		return arg
	}
	if st, err := os.Stat(arg); err == nil && st.Mode().IsRegular() {
		return "./" + arg
	}
	return arg
}

// findObject returns the file a FILE|NAME argument designates: a path (see
// objectArg), or the first object ld.so's search finds for a name (glibc's
// own libraries included: the host's copy), searched in dirs first.
func findObject(arg string, dirs []string) (string, error) {
	arg = objectArg(arg)
	if strings.ContainsRune(arg, '/') {
		return arg, nil
	}
	s := &ldso.Search{SearchPath: dirs, LibraryPath: ldso.SplitPath(os.Getenv("LD_LIBRARY_PATH"))}
	cands := s.Candidates(arg, nil)
	for _, c := range cands {
		if parseCached(c.Path) == nil {
			return c.Path, nil
		}
	}
	return "", fmt.Errorf("%q: no such file, and no shared object of that name in the %d places ld.so would look (give its path, or its directory with -L DIR)", arg, len(cands))
}

// runLdd is `runplug ldd`.
func runLdd(args []string, stdout, stderr io.Writer) int {
	fs, level := newFlagSet("ldd")
	asJSON := fs.Bool("json", false, "print the tree as one JSON object")
	var dirs dirList
	fs.Var(&dirs, "L", "a directory `DIR` to search for needed libraries (repeatable)")
	logger, err := parseFlags(fs, level, args, stdout, stderr)
	if err != nil {
		return flagExit(err)
	}
	if fs.NArg() != 1 {
		return usageError(stderr, "ldd", "want exactly one FILE or NAME")
	}
	arg := fs.Arg(0)
	// FILE itself is an error on standard error, worded as inspect and
	// call word it; only what it needs goes in the tree.
	if _, _, err := parseObject(arg, dirs); err != nil {
		return fail(stderr, objectError("ldd", arg, err))
	}
	l := loader.New(loader.Options{Logger: logger, SearchPath: dirs})
	defer l.Close(context.Background())
	root, err := l.Dependencies(objectArg(arg))
	if err != nil {
		return fail(stderr, fmt.Errorf("ldd %s: %w", arg, err))
	}
	status := exitOK
	walkDeps(root, func(n *loader.DepNode, _ int) {
		if n.Err != nil {
			status = exitError
		}
	})
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(root); err != nil {
			return fail(stderr, fmt.Errorf("ldd %s: %w", arg, err))
		}
		return status
	}
	walkDeps(root, func(n *loader.DepNode, depth int) { printDep(stdout, n, depth) })
	return status
}

// walkDeps calls fn on n and its tree, depth-first, with each node's depth.
func walkDeps(n *loader.DepNode, fn func(*loader.DepNode, int)) {
	var walk func(n *loader.DepNode, depth int)
	walk = func(n *loader.DepNode, depth int) {
		fn(n, depth)
		for _, c := range n.Needs {
			walk(c, depth+1)
		}
	}
	walk(n, 0)
}

// printDep prints one line for n (two with its version needs):
//
//	libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (ld.so.cache)
//	libc.so.6 => host /lib/x86_64-linux-gnu/libc.so.6
//	libfoo.so => not found: ...
//	libbar.so => /x/libbar.so (DT_RUNPATH): REFUSED: ...
func printDep(w io.Writer, n *loader.DepNode, depth int) {
	ind := strings.Repeat("    ", depth)
	var b strings.Builder
	b.WriteString(ind + oneLine(n.Name) + " => ")
	switch {
	case n.From == loader.FromHost:
		b.WriteString("host " + orDash(n.Path))
	case n.Path == "":
		b.WriteString("not found")
	default:
		b.WriteString(oneLine(n.Path))
		if n.From != ldso.FromPath {
			b.WriteString(" (" + n.From + ")")
		}
	}
	if n.Seen {
		b.WriteString(" (see above)")
	}
	if n.Err != nil {
		if n.Path != "" {
			b.WriteString(": REFUSED")
		}
		b.WriteString(": " + oneLine(n.Err.Error()))
	}
	fmt.Fprintln(w, b.String())
	if len(n.VersionNeeds) > 0 && !n.Seen {
		files := make([]string, 0, len(n.VersionNeeds))
		for f := range n.VersionNeeds {
			files = append(files, f)
		}
		sort.Strings(files)
		var parts []string
		for _, f := range files {
			parts = append(parts, oneLine(f)+" ("+oneLine(strings.Join(n.VersionNeeds[f], ", "))+")")
		}
		fmt.Fprintf(w, "%s    versions: %s\n", ind, strings.Join(parts, "; "))
	}
}
