package loader_test

import (
	"context"
	"debug/elf"
	"errors"
	"testing"

	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/testenv"
	"github.com/runplug/runplug/loader"
)

// TestHostLibrarySymbols: a Plugin of the host's libc.so.6 answers each
// lookup with the type, size and version its file gives (read in place,
// not decoded whole): every exported symbol agrees with the decoded model
// of the file, and a thread-local one is refused.
func TestHostLibrarySymbols(t *testing.T) {
	path := testenv.SystemLibPath("libc.so.6")
	testenv.NeedFile(t, path, "libc6")
	f, err := elfimage.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l := loader.New(loader.Options{})
	defer l.Close(context.Background())
	p, err := l.Load(context.Background(), "libc.so.6")
	if err != nil {
		t.Fatal(err)
	}
	checked, tls := 0, 0
	for _, s := range f.Dynamic.Symbols[1:] {
		if s.Shndx == elf.SHN_UNDEF || s.Hidden || s.Local || s.Bind == elf.STB_LOCAL || s.Name == "" {
			continue
		}
		got, err := p.LookupVersion(s.Name, s.Version)
		if s.Type == elf.STT_TLS {
			if !errors.Is(err, loader.ErrTLS) {
				t.Errorf("%s@%s (thread-local): %+v, %v; want ErrTLS", s.Name, s.Version, got, err)
			}
			tls++
			continue
		}
		if err != nil {
			continue // a definition the host's copy does not export
		}
		wantFunc := s.Type == elf.STT_FUNC || s.Type == elf.STT_GNU_IFUNC
		if got.Size != s.Size || got.Func != wantFunc || got.Version != s.Version {
			t.Errorf("%s@%s: size %d, func %v, version %q; the file says %d, %v, %q", s.Name, s.Version, got.Size, got.Func, got.Version, s.Size, wantFunc, s.Version)
		}
		checked++
	}
	if checked < 1000 || tls == 0 {
		t.Errorf("checked %d symbols and %d thread-local ones: too few", checked, tls)
	}
}
