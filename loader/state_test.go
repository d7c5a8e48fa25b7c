package loader

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
)

// loadState loads plugin name with its state mapped from file.
func loadState(t testing.TB, l *Loader, name, file string) *Plugin {
	t.Helper()
	p, err := l.LoadWith(context.Background(), plugintest.Build(t, name), LoadOptions{StateFile: file})
	if err != nil {
		t.Fatalf("load %s with state %s: %v", name, file, err)
	}
	return p
}

// stateWord reads the i-th uint64 of p's state through the host's view
// (no call into the plugin).
func stateWord(t testing.TB, p *Plugin, i int) uint64 {
	t.Helper()
	info, ok := p.State()
	if !ok {
		t.Fatalf("%s has no state", p.Name())
	}
	var b [8]byte
	if err := p.ReadMemory(info.Addr+uintptr(8*i), b[:]); err != nil {
		t.Fatal(err)
	}
	return binary.LittleEndian.Uint64(b[:])
}

func TestStatePersistsAcrossInstancesAndLoads(t *testing.T) {
	l := New(Options{})
	defer l.Close(context.Background())
	file := filepath.Join(t.TempDir(), "counter.state")
	p := loadState(t, l, "state_counter", file)
	for i := 0; i < 3; i++ {
		call(t, p, "counter_bump")
	}
	q := loadState(t, l, "state_counter", file) // a second instance, same pages
	if got := call(t, q, "counter_get"); got != 3 {
		t.Errorf("second instance reads %d, want 3", got)
	}
	call(t, q, "counter_bump")
	if got := stateWord(t, p, 0); got != 4 {
		t.Errorf("host reads %d in the first instance's state, want 4", got)
	}
	info, _ := p.State()
	if info.Version != 1 || info.TypeSize != 16 || info.Size != 4096 || info.Path != file || info.Generation != 1 {
		t.Errorf("State() = %+v", info)
	}
	if got := call(t, p, "counter_addr"); uintptr(got) != info.Addr {
		t.Errorf("plugin's state at %#x, State().Addr %#x", got, info.Addr)
	}
	if err := p.SyncState(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.Close(context.Background())
	q.Close(context.Background())
	if _, ok := p.State(); ok {
		t.Error("State() of a closed plugin reports a region")
	}
	r := loadState(t, l, "state_counter", file)
	if got, runs := call(t, r, "counter_get"), call(t, r, "counter_ctor_runs"); got != 4 || runs != 3 {
		t.Errorf("after reopening: counter %d (want 4), constructor runs %d (want 3)", got, runs)
	}
	r.Close(context.Background())
	// The bytes are the file's: read it without runplug.
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 8192 || binary.LittleEndian.Uint64(b[4096:]) != 4 {
		t.Errorf("state file: %d bytes, counter %d; want 8192 bytes, counter 4", len(b), binary.LittleEndian.Uint64(b[4096:]))
	}
}

func TestStateManyReloadsReuseImages(t *testing.T) {
	// More loads than the Loader keeps tombstones: later loads reuse
	// parked images, whose pristine data must never reach the file.
	l := New(Options{})
	defer l.Close(context.Background())
	file := filepath.Join(t.TempDir(), "counter.state")
	for i := 1; i <= maxTombstones+6; i++ {
		p := loadState(t, l, "state_counter", file)
		if got := call(t, p, "counter_bump"); got != uint64(i) {
			t.Fatalf("load %d: counter %d, want %d", i, got, i)
		}
		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStateMemfdPerInstance(t *testing.T) {
	l := New(Options{})
	defer l.Close(context.Background())
	p := load(t, l, "state_counter")
	q := load(t, l, "state_counter")
	call(t, p, "counter_bump")
	call(t, p, "counter_bump")
	if a, b := call(t, p, "counter_get"), call(t, q, "counter_get"); a != 2 || b != 0 {
		t.Errorf("anonymous states: %d and %d, want 2 and 0", a, b)
	}
	if info, _ := p.State(); info.Path != "" {
		t.Errorf("anonymous state has path %q", info.Path)
	}
	// A plugin without a state region has none, and loads as before.
	b := load(t, l, "basic")
	if _, ok := b.State(); ok {
		t.Error("basic reports a state region")
	}
	if err := b.SyncState(context.Background()); err != nil {
		t.Errorf("SyncState without state: %v", err)
	}
}

func TestStateSurvivesFault(t *testing.T) {
	l := New(Options{})
	defer l.Close(context.Background())
	file := filepath.Join(t.TempDir(), "counter.state")
	p := loadState(t, l, "state_counter", file)
	call(t, p, "counter_bump")
	f, err := p.Func("counter_bump_then_fault")
	if err != nil {
		t.Fatal(err)
	}
	var fe *pcall.FaultError
	if _, err := f.Call(context.Background(), 5); !errors.As(err, &fe) {
		t.Fatalf("counter_bump_then_fault: %v, want a fault", err)
	}
	if got := stateWord(t, p, 0); got != 6 {
		t.Errorf("host reads %d after the fault, want 6", got)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	q := loadState(t, l, "state_counter", file)
	if got := call(t, q, "counter_get"); got != 6 {
		t.Errorf("after the fault and a reload: %d, want 6", got)
	}
}

func TestStateMigration(t *testing.T) {
	l := New(Options{})
	defer l.Close(context.Background())
	file := filepath.Join(t.TempDir(), "counter.state")
	p := loadState(t, l, "state_counter", file)
	for i := 0; i < 4; i++ {
		call(t, p, "counter_bump")
	}
	p.Close(context.Background())
	v2 := loadState(t, l, "state_counter_v2", file)
	if got, from := call(t, v2, "counter_get"), call(t, v2, "counter_migrated_from"); got != 4 || from != 1 {
		t.Errorf("after migration: counter %d (want 4), migrated from %d (want 1)", got, from)
	}
	info, _ := v2.State()
	if info.Version != 2 || info.TypeSize != 32 || info.Generation != 2 {
		t.Errorf("State() after migration = %+v", info)
	}
	var label [8]byte
	v2.ReadMemory(info.Addr, label[:])
	if string(label[:7]) != "counter" {
		t.Errorf("label %q", label)
	}
	v2.Close(context.Background())
	// Layout 1 has no migration from 2: refused, file untouched.
	before, _ := os.ReadFile(file)
	_, err := l.LoadWith(context.Background(), plugintest.Build(t, "state_counter"), LoadOptions{StateFile: file})
	var me *MigrationError
	if !errors.As(err, &me) || !errors.Is(err, ErrSymbolNotFound) || me.From != 2 || me.To != 1 {
		t.Errorf("loading layout 1 over 2: %v, want a MigrationError wrapping ErrSymbolNotFound", err)
	}
	if after, _ := os.ReadFile(file); !bytes.Equal(before, after) {
		t.Error("a refused migration changed the file")
	}
	again := loadState(t, l, "state_counter_v2", file)
	if got := call(t, again, "counter_get"); got != 4 {
		t.Errorf("layout 2 reopened: %d, want 4", got)
	}
}

func TestStateMigrationRefused(t *testing.T) {
	tests := []struct {
		plugin string
		check  func(*MigrationError) bool
	}{
		{"state_counter_v3_nomigrate", func(e *MigrationError) bool { return errors.Is(e, ErrSymbolNotFound) }},
		{"state_counter_v4_fails", func(e *MigrationError) bool { return e.Result == 7 && e.Err == nil }},
		{"state_counter_v5_faults", func(e *MigrationError) bool {
			var fe *pcall.FaultError
			return errors.As(e, &fe)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.plugin, func(t *testing.T) {
			l := New(Options{})
			defer l.Close(context.Background())
			file := filepath.Join(t.TempDir(), "counter.state")
			p := loadState(t, l, "state_counter", file)
			call(t, p, "counter_bump")
			p.Close(context.Background())
			before, _ := os.ReadFile(file)
			_, err := l.LoadWith(context.Background(), plugintest.Build(t, tt.plugin), LoadOptions{StateFile: file})
			var me *MigrationError
			if !errors.As(err, &me) || !errors.Is(err, ErrMigration) || !tt.check(me) {
				t.Fatalf("load: %v", err)
			}
			if after, _ := os.ReadFile(file); !bytes.Equal(before, after) {
				t.Error("a failed migration changed the file")
			}
			q := loadState(t, l, "state_counter", file)
			if got := call(t, q, "counter_get"); got != 1 {
				t.Errorf("layout 1 after the failed migration: %d, want 1", got)
			}
		})
	}
}

func TestStateMigrationBusy(t *testing.T) {
	l := New(Options{})
	defer l.Close(context.Background())
	file := filepath.Join(t.TempDir(), "counter.state")
	p := loadState(t, l, "state_counter", file)
	call(t, p, "counter_bump")
	_, err := l.LoadWith(context.Background(), plugintest.Build(t, "state_counter_v2"), LoadOptions{StateFile: file})
	if !errors.Is(err, ErrStateBusy) || !errors.Is(err, ErrMigration) {
		t.Errorf("migrating a mapped state: %v, want ErrStateBusy", err)
	}
	if got := call(t, p, "counter_bump"); got != 2 {
		t.Errorf("the mapped instance counts %d, want 2", got)
	}
}

func TestStateLayoutRefused(t *testing.T) {
	l := New(Options{})
	defer l.Close(context.Background())
	for _, name := range []string{"state_reloc", "state_partial"} {
		_, err := l.Load(context.Background(), plugintest.Build(t, name))
		var re *RefusedError
		if !errors.Is(err, ErrStateLayout) || !errors.Is(err, elfimage.ErrUnsupported) || !errors.As(err, &re) {
			t.Errorf("%s: %v, want a RefusedError wrapping ErrStateLayout", name, err)
		}
	}
}

func TestStateFileRefused(t *testing.T) {
	dir := t.TempDir()
	garbage := bytes.Repeat([]byte{0x5a}, 8192)
	valid := stateRecord{Gen: 1, Version: 1, TypeSize: 16, Off: 4096, Slot: 4096}.marshal()
	past := stateRecord{Gen: 1, Version: 1, TypeSize: 16, Off: 4096, Slot: 8192}.marshal()
	tests := []struct {
		name string
		data []byte
	}{
		{"short", []byte("hello")},
		{"garbage", garbage},
		{"slot past the end", append(append(past, make([]byte, 4096-len(past))...), make([]byte, 4096)...)},
		{"truncated slot", append(append(valid, make([]byte, 4096-len(valid))...), make([]byte, 100)...)},
	}
	l := New(Options{})
	defer l.Close(context.Background())
	for _, tt := range tests {
		file := filepath.Join(dir, tt.name)
		os.WriteFile(file, tt.data, 0o600)
		_, err := l.LoadWith(context.Background(), plugintest.Build(t, "state_counter"), LoadOptions{StateFile: file})
		var se *StateFileError
		if !errors.As(err, &se) || !errors.Is(err, ErrStateFile) {
			t.Errorf("%s: %v, want a StateFileError", tt.name, err)
		}
		if after, _ := os.ReadFile(file); !bytes.Equal(after, tt.data) {
			t.Errorf("%s: the refused file changed", tt.name)
		}
	}
	_, err := l.LoadWith(context.Background(), plugintest.Build(t, "state_counter"), LoadOptions{StateFile: dir})
	if err == nil {
		t.Error("a directory as state file loaded")
	}
}

func TestSyncStateContext(t *testing.T) {
	l := New(Options{})
	defer l.Close(context.Background())
	p := loadState(t, l, "state_counter", filepath.Join(t.TempDir(), "s"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.SyncState(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("SyncState with a cancelled context: %v", err)
	}
	p.Close(context.Background())
	if err := p.SyncState(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("SyncState after Close: %v, want ErrClosed", err)
	}
}

// TestStateFileTruncatedUnderUs plays a hostile process that truncates
// the state file while a plugin has it mapped: the plugin's next access
// is a fault of that call (SIGBUS), the host's read of the state an
// error, and neither kills the host; Close still succeeds or reports.
func TestStateFileTruncatedUnderUs(t *testing.T) {
	// Go's recovery of the SIGBUS in ReadMemory checks the fault address,
	// which qemu-user reports wrongly for SIGBUS.
	testenv.NeedNative(t, "a SIGBUS's fault address")
	l := New(Options{})
	defer l.Close(context.Background())
	file := filepath.Join(t.TempDir(), "counter.state")
	p := loadState(t, l, "state_counter", file)
	call(t, p, "counter_bump")
	if err := os.Truncate(file, 0); err != nil {
		t.Fatal(err)
	}
	f, err := p.Func("counter_bump")
	if err != nil {
		t.Fatal(err)
	}
	var fe *pcall.FaultError
	if _, err := f.Call(context.Background()); !errors.As(err, &fe) || fe.Signal != syscall.SIGBUS {
		t.Errorf("call after the truncation: %v, want a SIGBUS fault", err)
	}
	info, _ := p.State()
	var b [8]byte
	if err := p.ReadMemory(info.Addr, b[:]); !errors.Is(err, ErrBadAddress) {
		t.Errorf("host read after the truncation: %v, want ErrBadAddress", err)
	}
	t.Logf("Close: %v", p.Close(context.Background()))
}

// TestReadState: ReadState reads the region in place, within its bounds,
// and refuses a closed plugin or one without state.
func TestReadState(t *testing.T) {
	l := New(Options{})
	defer l.Close(context.Background())
	p := loadState(t, l, "state_counter", filepath.Join(t.TempDir(), "s"))
	call(t, p, "counter_bump")
	call(t, p, "counter_bump")
	for _, tc := range []struct {
		off, n int
		ok     bool
	}{{0, 8, true}, {4088, 8, true}, {0, 4096, true}, {4089, 8, false}, {-1, 1, false}, {4097, 0, false}} {
		b := make([]byte, tc.n)
		err := p.ReadState(tc.off, b)
		if (err == nil) != tc.ok {
			t.Errorf("ReadState(%d, %d bytes): %v, want ok=%v", tc.off, tc.n, err, tc.ok)
		}
		if tc.ok && tc.off == 0 && binary.LittleEndian.Uint64(b) != 2 {
			t.Errorf("ReadState(0) reads %d, want 2", binary.LittleEndian.Uint64(b))
		}
	}
	p.Close(context.Background())
	if err := p.ReadState(0, make([]byte, 8)); !errors.Is(err, ErrClosed) {
		t.Errorf("ReadState after Close: %v, want ErrClosed", err)
	}
	q, err := l.Load(context.Background(), plugintest.Build(t, "basic"))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.ReadState(0, make([]byte, 1)); err == nil {
		t.Error("ReadState of a plugin without state succeeded")
	}
}

// TestRustStateAcrossReloads: a Rust plugin's state, declared with
// runplug_state! (plugins/rust/runplug.rs), persists across reloads: a
// live plugin reloaded from the Rust build to the C build of the same
// layout (plugins/state_counter.c) and back counts on, and the host
// reads the Rust build's state where the plugin says it is.
func TestRustStateAcrossReloads(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "counter.so")
	rs, c := plugintest.Build(t, "rs_state"), plugintest.Build(t, "state_counter")
	install(t, rs, path)
	l := New(Options{})
	defer l.Close(ctx)
	lv, err := l.LoadLive(ctx, path, LiveOptions{StateFile: filepath.Join(dir, "counter.state")})
	if err != nil {
		t.Fatal(err)
	}
	defer lv.Close(ctx)
	bump, err := Bind0[int64](fnOf(t, lv, "counter_bump"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		bump(ctx)
	}
	info, ok := lv.State()
	if !ok || info.Version != 1 || info.TypeSize != 16 || info.Size != 4096 {
		t.Fatalf("Rust build's State() = %+v, %v", info, ok)
	}
	if got := call(t, lv.Plugin(), "counter_addr"); uintptr(got) != info.Addr {
		t.Errorf("Rust state at %#x, State().Addr %#x", got, info.Addr)
	}
	if got := stateWord(t, lv.Plugin(), 0); got != 3 {
		t.Errorf("host reads %d in the Rust build's state, want 3", got)
	}
	for i, next := range []string{c, rs} {
		install(t, next, path)
		if err := lv.Reload(ctx); err != nil {
			t.Fatalf("reload %d: %v", i+1, err)
		}
		if n, err := bump(ctx); n != int64(4+i) || err != nil {
			t.Errorf("reload %d (%s): counter_bump = %d, %v; want %d", i+1, filepath.Base(next), n, err, 4+i)
		}
	}
	if lang := call(t, lv.Plugin(), "counter_lang"); lang != 0x525 {
		t.Errorf("serving build %#x, want the Rust build's 0x525", lang)
	}
	if runs := call(t, lv.Plugin(), "counter_ctor_runs"); runs != 1 {
		t.Errorf("constructor runs %d in the shared state, want the C build's 1", runs)
	}
}
