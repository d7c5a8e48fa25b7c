package loader

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/runplug/runplug/elfmap"
	"github.com/runplug/runplug/internal/plugintest"
)

var writeSeeds = flag.Bool("write-fuzz-seeds", false, "rewrite testdata/fuzz/FuzzLink from the plugins")

// linkSeedPlugins are the plugins whose images seed FuzzLink: plain code
// and data, every relocation type, an IFUNC, symbol versions and TLS.
var linkSeedPlugins = []string{"basic", "reloc_types", "ifunc", "ver_lib", "tls_basic"}

// TestWriteLinkSeeds rewrites the committed seed corpus when run with
// -write-fuzz-seeds: the seed plugins cut before their section headers,
// which the loader never reads. The normal suite replays the corpus
// through FuzzLink.
func TestWriteLinkSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("run with -write-fuzz-seeds to rewrite testdata/fuzz/FuzzLink")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzLink")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range linkSeedPlugins {
		b := withoutSections(t, plugintest.Build(t, name))
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, "plugin-"+name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// withoutSections returns the object at path cut where its section header
// table begins, with e_shoff, e_shnum and e_shstrndx zeroed.
func withoutSections(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	le := binary.LittleEndian
	if shoff := le.Uint64(b[40:]); shoff > 0 && shoff < uint64(len(b)) {
		b = b[:shoff]
		le.PutUint64(b[40:], 0)
		le.PutUint16(b[60:], 0)
		le.PutUint16(b[62:], 0)
	}
	return b
}

// FuzzLink feeds LoadBytes arbitrary bytes with a Loader that runs none
// of the object's code (noExec): parse, plan, map, load dependencies,
// resolve, relocate, protect RELRO, check constructors, close. The
// contract: never a panic or a write outside the image (the process would
// crash), a refusal is typed (it wraps elfmap.ErrMalformed or
// ErrUnsupported or the system's errno, or is an *UndefinedSymbolError or
// *NotFoundError), a
// load that succeeds can be looked up in and closed, and nothing stays
// mapped afterwards.
func FuzzLink(f *testing.F) {
	for _, name := range linkSeedPlugins {
		f.Add(withoutSections(f, plugintest.Build(f, name)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l := New(Options{TombstoneBudget: 1})
		l.noExec = true
		p, err := l.LoadBytes("fuzz.so", data)
		if err != nil {
			var undef *UndefinedSymbolError
			var notFound *NotFoundError
			var errno syscall.Errno // the system refused: mmap of a huge image (ENOMEM), ...
			if !errors.Is(err, elfmap.ErrMalformed) && !errors.Is(err, elfmap.ErrUnsupported) &&
				!errors.As(err, &undef) && !errors.As(err, &notFound) && !errors.As(err, &errno) &&
				!errors.Is(err, errNoExec) {
				t.Fatalf("untyped refusal: %v", err)
			}
		} else {
			for _, s := range p.obj.p.file.Dynamic.Symbols {
				if s.Name != "" {
					p.Lookup(s.Name) // must not panic; any answer will do
				}
			}
			if err := p.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatalf("loader close: %v", err)
		}
		if n := len(l.tombs); n != 0 {
			t.Fatalf("%d tombstones left after Close", n)
		}
	})
}
