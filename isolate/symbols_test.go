//go:build linux && (amd64 || arm64) && cgo

package isolate_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// TestSymbolsBothWays: Plugin.Symbols lists the same exports in process
// and isolated (name, function or data, size, version), each at the
// address Lookup gives it there, leaving out the hidden, local and
// thread-local ones and the version's own symbol; the host's libc,
// reached by Load("libc.so.6"), lists its exports too.
func TestSymbolsBothWays(t *testing.T) {
	type entry struct {
		name    string
		fn      bool
		size    uint64
		version string
	}
	want := []entry{{"sym_func", true, 0, "SYM_1"}, {"sym_table", false, 32, "SYM_1"}}
	var lists [][]entry
	bothWays(t, func(t *testing.T, l *loader.Loader) {
		p := load(t, l, "symbols")
		syms, err := p.Symbols()
		if err != nil {
			t.Fatal(err)
		}
		var got []entry
		for _, s := range syms {
			sym, err := p.LookupVersion(s.Name, s.Version)
			if err != nil || sym.Addr != s.Addr || s.Addr == 0 {
				t.Errorf("%s: Symbols says %#x, Lookup %#x (%v)", s.Name, s.Addr, sym.Addr, err)
			}
			size := s.Size
			if s.Func {
				size = 0 // the compiler's business
			}
			got = append(got, entry{s.Name, s.Func, size, s.Version})
		}
		slices.SortFunc(got, func(a, b entry) int { return strings.Compare(a.name, b.name) })
		if !slices.Equal(got, want) {
			t.Errorf("Symbols = %+v, want %+v", got, want)
		}
		lists = append(lists, got)

		libc, err := l.Load(context.Background(), "libc.so.6")
		if err != nil {
			t.Fatal(err)
		}
		ls, err := libc.Symbols()
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(ls, func(s loader.Symbol) bool { return s.Name == "strlen" })
		if len(ls) < 500 || i < 0 || !ls[i].Func {
			t.Errorf("libc's Symbols: %d, strlen at %d", len(ls), i)
		}

		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Symbols(); !errors.Is(err, loader.ErrClosed) {
			t.Errorf("Symbols after Close = %v, want ErrClosed", err)
		}
	})
	if len(lists) == 2 && !slices.Equal(lists[0], lists[1]) {
		t.Errorf("in process %+v, isolated %+v", lists[0], lists[1])
	}
}

// TestLoadOptionsIsolated: what has no meaning in a plugin's own process
// is refused for an isolated Loader with an error that says so, wrapping
// loader.ErrUnsupported: host addresses (AddHostSymbols) and a global
// plugin (LoadOptions.Global).
func TestLoadOptionsIsolated(t *testing.T) {
	l, _ := newLoader(t, loader.Options{}, isolate.Options{})
	err := l.AddHostSymbols(map[string]uintptr{"x": 1})
	if !errors.Is(err, loader.ErrUnsupported) || !strings.Contains(err.Error(), "host") {
		t.Errorf("AddHostSymbols isolated = %v, want ErrUnsupported naming host addresses", err)
	}
	_, err = l.LoadWith(context.Background(), plugintest.Build(t, "global_lib"), loader.LoadOptions{Global: true})
	if !errors.Is(err, loader.ErrUnsupported) || !strings.Contains(err.Error(), "Global") {
		t.Errorf("LoadWith Global isolated = %v, want ErrUnsupported naming Global", err)
	}
}
