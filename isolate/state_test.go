//go:build linux && (amd64 || arm64) && cgo

package isolate_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// loadStateIso loads plugin name with its state in file, with l.
func loadStateIso(t testing.TB, l *loader.Loader, name, file string) *loader.Plugin {
	t.Helper()
	p, err := l.LoadWith(context.Background(), plugintest.Build(t, name), loader.LoadOptions{StateFile: file})
	if err != nil {
		t.Fatalf("load %s with state %s: %v", name, file, err)
	}
	return p
}

// isolatedWithState returns an isolating Loader, a new state file and
// plugin name loaded with it.
func isolatedWithState(t testing.TB, name string) (*loader.Loader, string, *loader.Plugin) {
	l, _ := newLoader(t, loader.Options{}, isolate.Options{})
	file := filepath.Join(t.TempDir(), "counter.state")
	return l, file, loadStateIso(t, l, name, file)
}

// mustCall calls p's symbol and fails the test on an error.
func mustCall(t testing.TB, p *loader.Plugin, name string, args ...uint64) uint64 {
	t.Helper()
	v, err := call(t, p, name, args...)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// stateU64 reads the i-th uint64 of p's state through the host's mapping
// (no call).
func stateU64(t testing.TB, p *loader.Plugin, i int) uint64 {
	t.Helper()
	var b [8]byte
	if err := p.ReadState(8*i, b[:]); err != nil {
		t.Fatal(err)
	}
	return binary.LittleEndian.Uint64(b[:])
}

// An isolated plugin's state is the state file's pages, mapped in the
// child and, read-only, in the host: the host reads it without a call, a
// second child and a plugin in process share it, it survives the child.
func TestIsolatedStateShared(t *testing.T) {
	ctx := context.Background()
	l, file, p := isolatedWithState(t, "state_counter")
	for i := 0; i < 3; i++ {
		mustCall(t, p, "counter_bump")
	}
	if got := stateU64(t, p, 0); got != 3 {
		t.Errorf("host reads %d in the isolated plugin's state, want 3", got)
	}
	info, ok := p.State()
	if !ok || info.Version != 1 || info.TypeSize != 16 || info.Size != 4096 || info.Path != file || info.Generation != 1 {
		t.Errorf("State() = %+v, %v", info, ok)
	}
	if got := mustCall(t, p, "counter_addr"); uintptr(got) != info.Addr {
		t.Errorf("plugin's state at %#x in its process, State().Addr %#x", got, info.Addr)
	}
	q := loadStateIso(t, l, "state_counter", file) // another child, same pages
	mustCall(t, q, "counter_bump")
	in := loader.New(loader.Options{})
	defer in.Close(ctx)
	r := loadStateIso(t, in, "state_counter", file) // in process, same pages
	mustCall(t, r, "counter_bump")
	if got := stateU64(t, p, 0); got != 5 {
		t.Errorf("host reads %d after a second child and a plugin in process counted, want 5", got)
	}
	if err := p.SyncState(ctx); err != nil {
		t.Fatal(err)
	}
	for _, pl := range []*loader.Plugin{p, q, r} {
		if err := pl.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.ReadState(0, make([]byte, 8)); !errors.Is(err, loader.ErrClosed) {
		t.Errorf("ReadState after Close: %v, want ErrClosed", err)
	}
	p = loadStateIso(t, l, "state_counter", file)
	if got, runs := mustCall(t, p, "counter_get"), mustCall(t, p, "counter_ctor_runs"); got != 5 || runs != 4 {
		t.Errorf("after reopening: counter %d (want 5), constructor runs %d (want 4)", got, runs)
	}
}

// A migration of an isolated plugin runs in the child, on a copy; the
// host commits it. One that is refused, fails or faults leaves the file
// byte-identical and comes back as the same typed error as in process.
func TestIsolatedStateMigration(t *testing.T) {
	ctx := context.Background()
	l, file, p := isolatedWithState(t, "state_counter")
	for i := 0; i < 7; i++ {
		mustCall(t, p, "counter_bump")
	}
	p.Close(ctx)
	before, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var fault *loader.FaultError
	for _, tc := range []struct {
		name   string
		result int32
		as     any // the cause's type, nil: none
	}{
		{"state_counter_v3_nomigrate", 0, nil},
		{"state_counter_v4_fails", 7, nil},
		{"state_counter_v5_faults", 0, &fault},
	} {
		_, err := l.LoadWith(ctx, plugintest.Build(t, tc.name), loader.LoadOptions{StateFile: file})
		var merr *loader.MigrationError
		if !errors.As(err, &merr) || merr.Path != file || merr.From != 1 || merr.Result != tc.result || (tc.as != nil && !errors.As(err, tc.as)) {
			t.Errorf("%s: %v (%+v), want a MigrationError of %s from 1, result %d", tc.name, err, merr, file, tc.result)
		}
		if tc.name == "state_counter_v3_nomigrate" && !errors.Is(err, loader.ErrSymbolNotFound) {
			t.Errorf("%s: %v, want ErrSymbolNotFound", tc.name, err)
		}
		if after, _ := os.ReadFile(file); !bytes.Equal(after, before) {
			t.Errorf("%s: a failed migration changed the state file", tc.name)
		}
	}
	q := loadStateIso(t, l, "state_counter_v2", file)
	info, _ := q.State()
	if got, from := mustCall(t, q, "counter_get"), mustCall(t, q, "counter_migrated_from"); got != 7 || from != 1 || info.Version != 2 || info.Generation != 2 {
		t.Errorf("migrated: counter %d (want 7), from %d (want 1), State() %+v (want version 2, generation 2)", got, from, info)
	}
	if label := make([]byte, 8); q.ReadState(0, label) != nil || string(label) != "counter\x00" {
		t.Errorf("host reads label %q in the migrated state", label)
	}
	// A restart maps the committed slot: no second migration.
	if err := q.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if info, _ := q.State(); uintptr(mustCall(t, q, "counter_addr")) != info.Addr {
		t.Errorf("after a restart: the plugin's state at %#x, State().Addr %#x", mustCall(t, q, "counter_addr"), info.Addr)
	}
	if got, runs := mustCall(t, q, "counter_get"), mustCall(t, q, "counter_ctor_runs"); got != 7 || runs != 3 {
		t.Errorf("after a restart: counter %d (want 7), constructor runs %d (want 3)", got, runs)
	}
}

// The child closes the state file's descriptor before any plugin code
// runs and keeps only the slot's pages mapped: no way back to the file
// reaches the header records the host owns (docs/STATE.md, "What the
// child can do to the file"). Each attack of a hostile plugin gets EBADF,
// is stopped and named by the filter, or touches only the slot's own
// pages (or the file past them); after each, the header is byte for
// byte the same and the next load accepts the file and sees the state.
func TestIsolatedStateHostile(t *testing.T) {
	ctx := context.Background()
	l, _ := newLoader(t, loader.Options{}, isolate.Options{})
	file := filepath.Join(t.TempDir(), "counter.state")
	p := loadStateIso(t, l, "state_counter", file)
	mustCall(t, p, "counter_bump")
	mustCall(t, p, "counter_bump")
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	header := stateHeader(t, file)

	ebadf := -int64(unix.EBADF)
	refused := func(name string) func(int64, error) error {
		return func(v int64, err error) error {
			var se *isolate.SyscallError
			if !errors.As(err, &se) || se.Name != name {
				return fmt.Errorf("got %d, %v; want a *SyscallError naming %s", v, err, name)
			}
			return nil
		}
	}
	returns := func(want int64) func(int64, error) error {
		return func(v int64, err error) error {
			if err != nil || v != want {
				return fmt.Errorf("got %d, %v; want %d", v, err, want)
			}
			return nil
		}
	}
	for _, tc := range []struct {
		name, fn string
		check    func(int64, error) error
		counter  uint64 // the state the next load sees
	}{
		{"pwrite over the header through descriptor 4", "hostile_scribble_header", returns(ebadf), 2},
		{"dup descriptor 4, then pwrite", "hostile_dup_scribble", returns(ebadf), 2},
		{"ftruncate", "hostile_truncate", refused("ftruncate"), 2},
		{"fallocate a hole over the header", "hostile_fallocate", refused("fallocate"), 2},
		{"remap_file_pages to the header page", "hostile_remap_header", refused("remap_file_pages"), 2},
		{"msync", "hostile_msync", refused("msync"), 2},
		{"reopen through /proc/self/fd", "hostile_reopen", refused("openat"), 2},
		{"reopen through /proc/self/map_files", "hostile_map_files", refused("openat"), 2},
		// Harmless: only the slot's own pages, or the file past them.
		{"mremap past the slot, then write", "hostile_mremap_grow", func(v int64, err error) error {
			var fe *loader.FaultError
			if err != nil && !errors.As(err, &fe) {
				return fmt.Errorf("got %v, want a SIGBUS fault past the file's end (or a write to its later pages)", err)
			}
			return nil
		}, 2},
		{"MADV_REMOVE the slot", "hostile_punch_slot", returns(0), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := loadStateIso(t, l, "state_hostile", file)
			v, err := call(t, q, tc.fn)
			if cerr := tc.check(int64(v), err); cerr != nil {
				t.Errorf("%s: %v", tc.fn, cerr)
			}
			q.Close(ctx)
			if got := stateHeader(t, file); !bytes.Equal(got, header) {
				t.Fatalf("%s changed the header records", tc.fn)
			}
			r := loadStateIso(t, l, "state_counter", file) // the next load accepts the file
			defer r.Close(ctx)
			if got := mustCall(t, r, "counter_get"); got != tc.counter {
				t.Errorf("after %s the state holds %d, want %d", tc.fn, got, tc.counter)
			}
			if tc.counter == 0 { // the punched slot: count again from there
				for range 2 {
					mustCall(t, r, "counter_bump")
				}
			}
		})
	}

	// The constructor, the first plugin code, already finds no
	// descriptor: with a child started for the load (the file
	// inherited) and with a spare (the file received over its socket).
	for _, spare := range []bool{false, true} {
		t.Run(fmt.Sprint("constructor, spare=", spare), func(t *testing.T) {
			l, iso := newLoader(t, loader.Options{}, isolate.Options{Spare: spare})
			defer iso.Close(ctx)
			file := filepath.Join(t.TempDir(), "ctor.state")
			for run := uint64(1); run <= 2; run++ {
				if err := iso.Prestart(); err != nil {
					t.Fatal(err)
				}
				q := loadStateIso(t, l, "state_hostile_ctor", file)
				if got := stateU64(t, q, 1); got != run {
					t.Errorf("load %d: the constructor ran %d times on this state, want %d (the next load accepted the file)", run, got, run)
				}
				for i, what := range []string{"pwrite(4)", "dup3(4), pwrite", "fcntl(4, F_DUPFD), pwrite"} {
					if got := int64(stateU64(t, q, 2+i)); got != ebadf {
						t.Errorf("load %d: the constructor's %s returned %d, want -EBADF", run, what, got)
					}
				}
				header := stateHeader(t, file)
				if err := q.Close(ctx); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(stateHeader(t, file), header) {
					t.Fatalf("load %d: the header changed", run)
				}
			}
		})
	}
}

// stateHeader returns the header page of the state file.
func stateHeader(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil || len(b) < 4096 {
		t.Fatalf("state file %s: %d bytes, %v", file, len(b), err)
	}
	return b[:4096]
}

// A load with state takes the spare child, started before the state
// file was known: the host hands it the file through the spare's socket
// (state_spare.go), and it maps the same state; a load without state
// takes the next spare, which closes its socket.
func TestIsolatedStateWithSpare(t *testing.T) {
	ctx := context.Background()
	l, iso := newLoader(t, loader.Options{}, isolate.Options{Spare: true})
	defer iso.Close(ctx)
	file := filepath.Join(t.TempDir(), "counter.state")
	for i := uint64(1); i <= 2; i++ {
		if err := iso.Prestart(); err != nil {
			t.Fatal(err)
		}
		spare := isolate.SparePid(iso)
		p := loadStateIso(t, l, "state_counter", file)
		if pid := pidOf(t, p); pid != spare {
			t.Errorf("load %d with state ran in child %d, not the spare %d", i, pid, spare)
		}
		if got := mustCall(t, p, "counter_bump"); got != i {
			t.Errorf("load %d: counter_bump = %d, want %d", i, got, i)
		}
		if got := stateU64(t, p, 0); got != i {
			t.Errorf("load %d: host reads %d, want %d", i, got, i)
		}
		if err := p.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := iso.Prestart(); err != nil {
		t.Fatal(err)
	}
	spare := isolate.SparePid(iso)
	q := load(t, l, "isolate_faults")
	if pid := pidOf(t, q); pid != spare {
		t.Errorf("load without state ran in child %d, not the spare %d", pid, spare)
	}
	if r, err := call(t, q, "add", 2, 3); r != 5 || err != nil {
		t.Errorf("add = %d, %v", r, err)
	}
}

// A Rust plugin's state (runplug_state!, plugins/rust/runplug.rs)
// isolated: the child maps it from the host's file, the host reads it
// without a call, and a C plugin of the same layout in process counts on.
// A test of the boundary (the child loads a Rust std and maps the state),
// so the arm64 job runs it under qemu-user too.
func TestIsolatedRustState(t *testing.T) {
	ctx := context.Background()
	l, _ := newBoundaryLoader(t, loader.Options{}, isolate.Options{})
	file := filepath.Join(t.TempDir(), "counter.state")
	p := loadStateIso(t, l, "rs_state", file)
	mustCall(t, p, "counter_bump")
	mustCall(t, p, "counter_bump")
	if got := stateU64(t, p, 0); got != 2 {
		t.Errorf("host reads %d in the Rust plugin's state, want 2", got)
	}
	in := loader.New(loader.Options{})
	defer in.Close(ctx)
	c := loadStateIso(t, in, "state_counter", file)
	if got := mustCall(t, c, "counter_bump"); got != 3 {
		t.Errorf("the C build in process counts %d after the isolated Rust build's 2, want 3", got)
	}
	if got := stateU64(t, p, 0); got != 3 {
		t.Errorf("host reads %d through the isolated plugin's view, want 3", got)
	}
}

// An isolated plugin loaded by a bare name (searched for, here through
// Options.SearchPath) gets its state as one loaded by path: the host
// finds the file the search finds, plans its state and has a view of
// it; LoadWith's StateFile works, and a plugin in process loaded by path
// shares the file. Without a StateFile its state is the host's memfd,
// which the host reads too.
func TestIsolatedStateByName(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const name = "libstatecounter.so"
	b, err := os.ReadFile(plugintest.Build(t, "state_counter"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o755); err != nil {
		t.Fatal(err)
	}
	l, _ := newLoader(t, loader.Options{SearchPath: []string{dir}}, isolate.Options{})
	file := filepath.Join(t.TempDir(), "counter.state")
	p, err := l.LoadWith(ctx, name, loader.LoadOptions{StateFile: file})
	if err != nil {
		t.Fatalf("LoadWith(%q) with a state file: %v", name, err)
	}
	mustCall(t, p, "counter_bump")
	mustCall(t, p, "counter_bump")
	if got := stateU64(t, p, 0); got != 2 {
		t.Errorf("host reads %d in the state of a plugin loaded by name, want 2", got)
	}
	if info, ok := p.State(); !ok || info.Path != file {
		t.Errorf("State() = %+v, %v; want the state file %s", info, ok, file)
	}
	in := loader.New(loader.Options{})
	defer in.Close(ctx)
	q, err := in.LoadWith(ctx, filepath.Join(dir, name), loader.LoadOptions{StateFile: file})
	if err != nil {
		t.Fatal(err)
	}
	if got := mustCall(t, q, "counter_bump"); got != 3 {
		t.Errorf("in process, by path, on the same file: counter %d, want 3", got)
	}

	r, err := l.Load(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	mustCall(t, r, "counter_bump")
	if got := stateU64(t, r, 0); got != 1 {
		t.Errorf("host reads %d in the memfd state of a plugin loaded by name, want 1", got)
	}
}
