package loader

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/plugintest"
)

// sharedEntry returns the process cache's entry for the file at path.
func sharedEntry(t *testing.T, path string) *elfimage.File {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	sharedFiles.mu.Lock()
	defer sharedFiles.mu.Unlock()
	return sharedFiles.m[statKey(&st)]
}

// copyPlugin copies a built plugin to a file of its own, so that the test
// owns its identity (inode, mtime).
func copyPlugin(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(plugintest.Build(t, name))
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/" + name + ".so"
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestParseOncePerProcess checks that a file is parsed once per process:
// parseOpen and every Loader share one *elfimage.File (a miss would replace
// the cache's entry with a new one), and a rewritten file is parsed anew.
func TestParseOncePerProcess(t *testing.T) {
	path := copyPlugin(t, "basic")
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	first, err := parseOpen(fh)
	fh.Close()
	if err != nil {
		t.Fatal(err)
	}
	if sharedEntry(t, path) != first {
		t.Fatal("parseOpen did not keep its result in the process's cache")
	}
	for i := 0; i < 2; i++ { // two Loaders, each a first load for itself
		l := newLoader(t, Options{})
		p, err := l.Load(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.files[p.obj.p.key].file; got != first {
			t.Errorf("Loader %d parsed the file again", i)
		}
		if err := l.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if sharedEntry(t, path) != first {
		t.Error("a Loader replaced the cache's entry: it parsed the file again")
	}
	// The same bytes with another mtime are another file.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	again, err := parsePath(path)
	if err != nil {
		t.Fatal(err)
	}
	if again == first {
		t.Error("a file with a new mtime was not parsed again")
	}
}

// TestParseOpenRefusals checks that parseOpen refuses what is not a
// regular ELF file with the parser's typed errors.
func TestParseOpenRefusals(t *testing.T) {
	dir := t.TempDir()
	fh, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := parseOpen(fh); err == nil {
		t.Error("parseOpen of a directory: no error")
	}
	junk := dir + "/junk.so"
	if err := os.WriteFile(junk, []byte("not an ELF file at all, but long enough to have a header........"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := parsePath(junk); !errors.Is(err, elfimage.ErrMalformed) {
		t.Errorf("junk: %v, want an elfimage.ErrMalformed", err)
	}
	if f := sharedEntry(t, junk); f != nil {
		t.Error("a refused file is in the cache")
	}
}

// TestParseConcurrent loads and parses one file from many goroutines with
// their own Loaders (run it with -race).
func TestParseConcurrent(t *testing.T) {
	path := copyPlugin(t, "basic")
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := New(Options{})
			defer l.Close(context.Background())
			p, err := l.Load(context.Background(), path)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := p.Lookup("add"); err != nil {
				t.Error(err)
			}
			if _, err := parsePath(path); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

// TestPristineReadAtFirstPark checks that a load does not read the
// writable regions' pristine copy, and that closing the first image reads
// it, so the next load reuses the parked image.
func TestPristineReadAtFirstPark(t *testing.T) {
	path := copyPlugin(t, "basic")
	l := newLoader(t, Options{})
	p, err := l.Load(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	pp := p.obj.p
	if pp.pristine != nil || pp.pristineRead {
		t.Fatal("the load read the pristine copy")
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if pp.pristine == nil {
		t.Fatal("parking the image did not read the pristine copy")
	}
	if len(l.tombs) != 1 || l.tombs[0].p != pp {
		t.Fatalf("%d tombstones, want the parked image", len(l.tombs))
	}
}

// parsePath is elfimage.ParseInPlace of the file at path through the
// process's cache.
func parsePath(path string) (*elfimage.File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("elfmap: %w", err)
	}
	defer fh.Close()
	f, err := parseOpen(fh)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return f, nil
}
