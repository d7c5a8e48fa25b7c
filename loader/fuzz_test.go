package loader

import (
	"context"
	"errors"
	"syscall"
	"testing"

	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/plugintest"
)

// The committed seeds made from the test plugins (testdata/fuzz/FuzzLink/plugin-*):
//
//go:generate go run ../internal/cmd/fuzzseeds FuzzLink

// FuzzLink feeds LoadBytes arbitrary bytes with a Loader that runs none
// of the object's code (noExec): parse, plan, map, load dependencies,
// resolve, relocate, protect RELRO, check constructors, close. The
// contract: never a panic or a write outside the image (the process would
// crash), a refusal is typed (it wraps elfimage.ErrMalformed or
// ErrUnsupported or the system's errno, or is an *UndefinedSymbolError or
// *NotFoundError), a
// load that succeeds can be looked up in and closed, and nothing stays
// mapped afterwards.
func FuzzLink(f *testing.F) {
	for _, name := range plugintest.FuzzSeedPlugins["FuzzLink"] {
		b, err := plugintest.SeedImage(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l := New(Options{TombstoneBudget: 1})
		l.noExec = true
		p, err := l.LoadBytes(context.Background(), "fuzz.so", data)
		if err != nil {
			var undef *UndefinedSymbolError
			var notFound *NotFoundError
			var errno syscall.Errno // the system refused: mmap of a huge image (ENOMEM), ...
			if !errors.Is(err, elfimage.ErrMalformed) && !errors.Is(err, elfimage.ErrUnsupported) &&
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
			if err := p.Close(context.Background()); err != nil {
				t.Fatalf("close: %v", err)
			}
		}
		if err := l.Close(context.Background()); err != nil {
			t.Fatalf("loader close: %v", err)
		}
		if n := len(l.tombs); n != 0 {
			t.Fatalf("%d tombstones left after Close", n)
		}
	})
}
