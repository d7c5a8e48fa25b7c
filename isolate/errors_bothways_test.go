//go:build linux && (amd64 || arm64) && cgo

package isolate_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/runplug/runplug/elfmap"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// TestErrorsBothWays: one table of failures, each run against an
// in-process Loader and an isolated one. Each must give the error the
// table names (errors.Is, errors.As and the fields that identify it), and
// the two must answer errors.Is and errors.As the same for every sentinel
// and typed error a host tests from loader (and elfmap, isolate), with
// the same values in the fields that do not depend on the process (a PC
// or a pid does), and the same message unless it names a PC or a pid.
func TestErrorsBothWays(t *testing.T) {
	needKernel(t)
	faults := plugintest.Build(t, "faults")
	hosts := plugintest.Build(t, "isolate_host")
	tests := []struct {
		name string
		run  func(t *testing.T, l *loader.Loader) error
		is   []error
		as   any                // a pointer to the typed error's pointer type
		same func(e any) string // the fields both modes must agree on, from *as
	}{
		{"fault", func(t *testing.T, l *loader.Loader) error {
			_, err := fn(t, loadPath(t, l, faults), "fault_null_read").Call(context.Background())
			return err
		}, nil, new(*loader.FaultError), func(e any) string {
			f := e.(*loader.FaultError)
			return fmt.Sprint(f.Signal, f.Code, f.Addr, f.Where, f.Symbol, f.Plugin, f.Object)
		}},
		{"abort", func(t *testing.T, l *loader.Loader) error {
			_, err := fn(t, loadPath(t, l, faults), "fault_abort").Call(context.Background())
			return err
		}, nil, new(*loader.FaultError), func(e any) string {
			f := e.(*loader.FaultError)
			return fmt.Sprint(f.Signal, f.Code, f.Addr, f.Where, f.Plugin)
		}},
		{"call after quarantine", func(t *testing.T, l *loader.Loader) error {
			p := loadPath(t, l, faults)
			if _, err := fn(t, p, "fault_null_read").Call(context.Background()); err == nil {
				t.Fatal("fault_null_read returned")
			}
			_, err := fn(t, p, "faults_ok").Call(context.Background(), 1, 2)
			return err
		}, []error{loader.ErrQuarantined}, nil, nil},
		{"call after Close", func(t *testing.T, l *loader.Loader) error {
			p := loadPath(t, l, faults)
			f := fn(t, p, "faults_ok")
			if err := p.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			_, err := f.Call(context.Background(), 1, 2)
			return err
		}, []error{loader.ErrClosed}, nil, nil},
		{"deadline", func(t *testing.T, l *loader.Loader) error {
			inside := make(chan struct{}, 1)
			registerHost(t, l, inside, false)
			spin := fn(t, loadPath(t, l, hosts), "spin")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { <-inside; cancel() }()
			_, err := spin.Call(ctx)
			return err
		}, []error{loader.ErrDeadline, context.Canceled}, new(*loader.DeadlineError), func(e any) string {
			// Not Plugin: in process it names the region the interrupt
			// landed in, which is the host's when it lands as the host
			// function returns (as it does under -race).
			return fmt.Sprint(e.(*loader.DeadlineError).Cause)
		}},
		{"host function panic", func(t *testing.T, l *loader.Loader) error {
			registerHost(t, l, make(chan struct{}, 1), false)
			_, err := fn(t, loadPath(t, l, hosts), "call_panic").Call(context.Background(), 7)
			return err
		}, nil, new(*loader.HostPanicError), func(e any) string {
			h := e.(*loader.HostPanicError)
			return fmt.Sprint(h.Func, h.Value)
		}},
		{"library not found", func(t *testing.T, l *loader.Loader) error {
			_, err := l.Load(context.Background(), "/nonexistent/runplug-nope.so")
			return err
		}, []error{loader.ErrNotFound}, new(*loader.NotFoundError), func(e any) string {
			n := e.(*loader.NotFoundError)
			return fmt.Sprint(n.Name, n.Needer, n.Tried, n.Err)
		}},
		{"undefined symbol at load", func(t *testing.T, l *loader.Loader) error {
			_, err := l.Load(context.Background(), plugintest.Build(t, "weak_strong_missing"))
			return err
		}, []error{loader.ErrSymbolNotFound}, new(*loader.UndefinedSymbolError), func(e any) string {
			u := e.(*loader.UndefinedSymbolError)
			return fmt.Sprint(u.Object, u.Symbol, u.Version)
		}},
		{"refused dependency", func(t *testing.T, l *loader.Loader) error {
			_, err := l.Load(context.Background(), plugintest.Build(t, "search_refused_dep"))
			return err
		}, []error{loader.ErrUnsupported, errors.ErrUnsupported}, new(*loader.RefusedError), func(e any) string {
			return e.(*loader.RefusedError).Path
		}},
		{"malformed ELF", func(t *testing.T, l *loader.Loader) error {
			img := []byte("\x7fELF\x02\x01\x01\x00 not much of a shared object, this")
			_, err := l.LoadBytes(context.Background(), "junk.so", img)
			return err
		}, []error{elfmap.ErrMalformed}, new(*elfmap.FormatError), func(e any) string {
			f := e.(*elfmap.FormatError)
			return fmt.Sprint(f.Off, f.Field, f.Value, f.Msg)
		}},
		{"executable", func(t *testing.T, l *loader.Loader) error {
			_, err := l.Load(context.Background(), "/bin/true")
			return err
		}, []error{elfmap.ErrExecutable, loader.ErrUnsupported}, new(*elfmap.FormatError), func(e any) string {
			f := e.(*elfmap.FormatError)
			return fmt.Sprint(f.Off, f.Field, f.Value, f.Msg)
		}},
		{"thread-local lookup", func(t *testing.T, l *loader.Loader) error {
			_, err := loadPath(t, l, plugintest.Build(t, "tls_basic")).Lookup("counter")
			return err
		}, []error{loader.ErrTLS, loader.ErrUnsupported}, nil, nil},
		{"missing function", func(t *testing.T, l *loader.Loader) error {
			_, err := loadPath(t, l, faults).Func("no_such_function")
			return err
		}, []error{loader.ErrSymbolNotFound}, nil, nil},
		{"bad signature", func(t *testing.T, l *loader.Loader) error {
			_, err := loader.Bind0[string](fnOf(t, loadPath(t, l, faults), "faults_ok"))
			return err
		}, []error{loader.ErrSignature}, new(*loader.SignatureError), func(e any) string {
			s := e.(*loader.SignatureError)
			return fmt.Sprint(s.Symbol, s.Index, s.Reason)
		}},
		{"state region refused", func(t *testing.T, l *loader.Loader) error {
			_, err := l.LoadWith(context.Background(), plugintest.Build(t, "state_reloc"), loader.LoadOptions{StateFile: bothWaysFile(t)})
			return err
		}, []error{loader.ErrStateLayout, loader.ErrUnsupported}, new(*loader.RefusedError), func(e any) string {
			return e.(*loader.RefusedError).Path
		}},
		{"corrupt state file", func(t *testing.T, l *loader.Loader) error {
			file := bothWaysFile(t)
			if err := os.WriteFile(file, make([]byte, 8192), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := l.LoadWith(context.Background(), plugintest.Build(t, "state_counter"), loader.LoadOptions{StateFile: file})
			return err
		}, []error{loader.ErrStateFile}, new(*loader.StateFileError), func(e any) string {
			return e.(*loader.StateFileError).Msg
		}},
		{"migration refused", func(t *testing.T, l *loader.Loader) error {
			file := bothWaysFile(t)
			stateFileOf(t, l, "state_counter", file)
			_, err := l.LoadWith(context.Background(), plugintest.Build(t, "state_counter_v4_fails"), loader.LoadOptions{StateFile: file})
			return err
		}, []error{loader.ErrMigration}, new(*loader.MigrationError), func(e any) string {
			m := e.(*loader.MigrationError)
			return fmt.Sprint(m.From, m.To, m.FromSize, m.ToSize, m.Result, m.Err)
		}},
		{"state file busy", func(t *testing.T, l *loader.Loader) error {
			file := bothWaysFile(t)
			stateFileOf(t, l, "state_counter", file)
			if _, err := l.LoadWith(context.Background(), plugintest.Build(t, "state_counter"), loader.LoadOptions{StateFile: file}); err != nil {
				t.Fatal(err)
			}
			_, err := l.LoadWith(context.Background(), plugintest.Build(t, "state_counter_v2"), loader.LoadOptions{StateFile: file})
			return err
		}, []error{loader.ErrMigration, loader.ErrStateBusy}, new(*loader.MigrationError), func(e any) string {
			m := e.(*loader.MigrationError)
			return fmt.Sprint(m.From, m.To, m.FromSize, m.ToSize, m.Result)
		}},
	}
	// The failures whose message names a PC or a pid; the others read
	// the same in both modes.
	processBound := map[string]struct{}{"fault": {}, "abort": {}, "deadline": {}}
	// What a host may test, in both modes.
	sentinels := []error{loader.ErrUnsupported, loader.ErrNotFound, loader.ErrSymbolNotFound, loader.ErrSignature,
		loader.ErrClosed, loader.ErrQuarantined, loader.ErrTLS, loader.ErrDeadline, loader.ErrBadAddress, loader.ErrNoMemory,
		loader.ErrStateLayout, loader.ErrStateFile, loader.ErrStateBusy, loader.ErrMigration, elfmap.ErrMalformed,
		elfmap.ErrExecutable, errors.ErrUnsupported, context.Canceled, context.DeadlineExceeded,
		isolate.ErrExited, isolate.ErrProtocol, isolate.ErrForbiddenSyscall}
	types := []any{new(*loader.FaultError), new(*loader.DeadlineError), new(*loader.HostPanicError),
		new(*loader.NotFoundError), new(*loader.UndefinedSymbolError), new(*loader.RelocError), new(*loader.RefusedError),
		new(*loader.SignatureError), new(*loader.StateFileError), new(*loader.MigrationError), new(*elfmap.FormatError),
		new(*isolate.ExitError), new(*isolate.SyscallError)}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errs [2]error
			for i, isolated := range []bool{false, true} {
				var l *loader.Loader
				if isolated {
					l, _ = newLoader(t, loader.Options{}, isolate.Options{})
				} else {
					l = loader.New(loader.Options{})
					t.Cleanup(func() { l.Close(context.Background()) })
				}
				err := tt.run(t, l)
				if err == nil {
					t.Fatalf("isolated=%v: no error", isolated)
				}
				t.Logf("isolated=%v: %v", isolated, err)
				for _, s := range tt.is {
					if !errors.Is(err, s) {
						t.Errorf("isolated=%v: %v: want errors.Is %q", isolated, err, s)
					}
				}
				if tt.as != nil && !errors.As(err, tt.as) {
					t.Errorf("isolated=%v: %v: want errors.As %T", isolated, err, tt.as)
				}
				errs[i] = err
			}
			in, iso := errs[0], errs[1]
			if _, ok := processBound[tt.name]; !ok && in.Error() != iso.Error() {
				t.Errorf("message\n%q in process,\n%q isolated", in, iso)
			}
			for _, s := range sentinels {
				if a, b := errors.Is(in, s), errors.Is(iso, s); a != b {
					t.Errorf("errors.Is(err, %q): %v in process, %v isolated", s, a, b)
				}
			}
			for _, target := range types {
				a := errors.As(in, target)
				va := reflect.ValueOf(target).Elem().Interface()
				b := errors.As(iso, target)
				vb := reflect.ValueOf(target).Elem().Interface()
				if a != b {
					t.Errorf("errors.As(err, %T): %v in process, %v isolated", target, a, b)
				}
				if a && b && tt.as != nil && reflect.TypeOf(target) == reflect.TypeOf(tt.as) {
					if fa, fb := tt.same(va), tt.same(vb); fa != fb {
						t.Errorf("%T fields: %q in process, %q isolated", va, fa, fb)
					}
				}
			}
		})
	}
}

// loadPath loads an already built plugin.
func loadPath(t *testing.T, l *loader.Loader, path string) *loader.Plugin {
	t.Helper()
	p, err := l.Load(context.Background(), path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return p
}

// stateFileOf makes file a state file of plugin name's layout: loaded
// once with it, then closed.
func stateFileOf(t *testing.T, l *loader.Loader, name, file string) {
	t.Helper()
	p, err := l.LoadWith(context.Background(), plugintest.Build(t, name), loader.LoadOptions{StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// bothWaysFile returns the path of a state file for a test of
// TestErrorsBothWays: the same path in both modes (messages name it),
// removed before each.
func bothWaysFile(t *testing.T) string {
	t.Helper()
	file := filepath.Join(os.TempDir(), "runplug-bothways-"+strings.ReplaceAll(t.Name(), "/", "-"))
	os.Remove(file)
	t.Cleanup(func() { os.Remove(file) })
	return file
}
