package loader_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// registry is one_reg's functions, bound; a failed call fails the test.
type registry struct {
	load    func(string) int64
	count   func() int64
	self    func() int64
	modSees func() int64
	plugin  *loader.Plugin
}

func bindRegistry(t *testing.T, p *loader.Plugin) *registry {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	load, err := loader.Bind1[string, int64](fnOf(t, p, "reg_load"))
	must(err)
	count, err := loader.Bind0[int64](fnOf(t, p, "reg_count"))
	must(err)
	self, err := loader.Bind0[int64](fnOf(t, p, "reg_self"))
	must(err)
	sees, err := loader.Bind0[int64](fnOf(t, p, "reg_mod_sees"))
	must(err)
	ok := func(v int64, err error) int64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	errFn, err := loader.Bind0[uint64](fnOf(t, p, "reg_error"))
	must(err)
	return &registry{
		load: func(s string) int64 {
			t.Helper()
			n := ok(load(context.Background(), s))
			if n < 0 {
				msg, _ := p.ReadString(uintptr(ok2(t, errFn)), 512)
				t.Errorf("dlopen(%s) from one_reg: %s", s, msg)
			}
			return n
		},
		count:   func() int64 { return ok(count(context.Background())) },
		self:    func() int64 { return ok(self(context.Background())) },
		modSees: func() int64 { return ok(sees(context.Background())) },
		plugin:  p,
	}
}

func ok2(t *testing.T, f func(context.Context) (uint64, error)) uint64 {
	t.Helper()
	v, err := f(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestOneCopyPerOpener: one_reg (loaded with Load) dlopens one_mod, which
// needs one_reg back and registers itself from its constructor. As with
// glibc, one_mod binds to the instance that opened it (count 1), not to a
// second copy of one_reg (count 0); dlopen of one_reg's own name from its
// code gives that instance too. A second Load is an independent instance
// with its own module. In process and isolated alike.
func TestOneCopyPerOpener(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	testenv.NeedNative(t, "isolated plugins (seccomp filters, user namespaces)")
	if !pcall.Supported {
		testenv.Skipf(t, "no native calls in this build")
	}
	// one_reg beside one_mod, so that its DT_RUNPATH ($ORIGIN) finds the
	// module; in a directory anyone may read, since an isolated child of
	// a root host runs as a uid of its own.
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} { // t.TempDir makes both 0700
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	built := filepath.Dir(plugintest.Build(t, "one_mod"))
	for _, name := range []string{"one_reg.so", "one_mod.so"} {
		b, err := os.ReadFile(filepath.Join(built, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	reg := filepath.Join(dir, "one_reg.so")
	for _, isolated := range []bool{false, true} {
		t.Run(fmt.Sprint("isolated=", isolated), func(t *testing.T) {
			var opts loader.Options
			reg := reg
			if isolated {
				// dlopen at run time opens the module's file.
				opts.Isolation = isolate.New(isolate.Options{Policy: isolate.Policy{AllowOpen: true}})
				// A root host's child opens it as a uid of its own
				// (docs/ISOLATION.md): from a directory any user reads.
				reg = worldReadable(t, reg, filepath.Join(filepath.Dir(reg), "one_mod.so"))
			}
			l := loader.New(opts)
			t.Cleanup(func() { l.Close(context.Background()) })
			open := func() *registry {
				p, err := l.Load(context.Background(), reg)
				if err != nil {
					t.Fatal(err)
				}
				return bindRegistry(t, p)
			}
			a := open()
			if got := a.self(); got != 1 {
				t.Errorf("dlopen(\"one_reg.so\") from one_reg: same instance = %d, want 1", got)
			}
			if got := a.load("one_mod.so"); got != 1 {
				t.Errorf("count after dlopen(one_mod.so) = %d, want 1 (one_mod registered with the opener's one_reg)", got)
			}
			if got := a.modSees(); got != 1 {
				t.Errorf("one_mod's reg_count() = %d, want 1 (its DT_NEEDED one_reg.so is the opener)", got)
			}
			b := open()
			if got := b.count(); got != 0 {
				t.Errorf("second instance's count = %d, want 0 (independent)", got)
			}
			if got := b.load("one_mod.so"); got != 1 {
				t.Errorf("second instance's count after its dlopen = %d, want 1", got)
			}
			if got := a.count(); got != 1 {
				t.Errorf("first instance's count after the second's dlopen = %d, want 1", got)
			}
			for _, r := range []*registry{a, b} {
				if err := r.plugin.Close(context.Background()); err != nil {
					t.Errorf("close: %v", err)
				}
			}
		})
	}
}

// worldReadable copies the files to a directory any user may read and
// returns the first copy's path.
func worldReadable(t *testing.T, paths ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} { // TempDir's own parent is 0700 too
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, filepath.Base(paths[0]))
}
