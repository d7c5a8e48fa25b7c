package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
)

// TestCallState runs `runplug call --state FILE` as separate commands
// would: the counter keeps counting across runs, a new layout migrates it,
// and the old layout is then refused.
func TestCallState(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	state := filepath.Join(t.TempDir(), "counter.state")
	v1, v2 := plugintest.Build(t, "state_counter"), plugintest.Build(t, "state_counter_v2")
	for i, want := range []string{"1", "2", "3"} {
		if got := callOK(t, "--state", state, v1, "counter_bump"); got != want {
			t.Errorf("run %d: %s, want %s", i+1, got, want)
		}
	}
	if got := callOK(t, "--state", state, v2, "counter_bump"); got != "4" {
		t.Errorf("layout 2 after migration: %s, want 4", got)
	}
	code, _, stderr := runCmd(t, "call", "--state", state, v1, "counter_get")
	if code != exitError || !strings.Contains(stderr, "state migration failed") || !strings.Contains(stderr, "runplug_state_migrate") {
		t.Errorf("layout 1 over layout 2: exit %d, %q", code, stderr)
	}
}

func TestInspectState(t *testing.T) {
	tests := []struct {
		plugin string
		want   string
	}{
		{"state_counter", "state:      version 1, type size 16 bytes, region"},
		{"state_counter_v2", "version 2, type size 32 bytes"},
		{"state_reloc", "state:      refused: runplug_state: relocation"},
		{"state_partial", "state:      refused: runplug_state: [0x"},
		{"basic", "state:      none"},
	}
	for _, tt := range tests {
		code, out, stderr := runCmd(t, "inspect", plugintest.Build(t, tt.plugin))
		if code != exitOK || !strings.Contains(out, tt.want) {
			t.Errorf("inspect %s: exit %d, want a line with %q:\n%s%s", tt.plugin, code, tt.want, out, stderr)
		}
	}
	rep := inspectJSON(t, plugintest.Build(t, "state_counter_v2"))
	if s := rep.State; s == nil || s.Version != 2 || s.TypeSize != 32 || s.Size != 4096 || !s.Migrates {
		t.Errorf("JSON state: %+v", s)
	}
}

// TestCallStateIsolated: `call --state FILE --isolate` maps the same
// state in the child: runs with and without --isolate count on, an
// isolated run migrates it, and an isolated run of the old layout is
// refused with the same error.
func TestCallStateIsolated(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	testenv.NeedNative(t, "isolated plugins (seccomp filters, user namespaces)")
	state := filepath.Join(t.TempDir(), "counter.state")
	v1, v2 := plugintest.Build(t, "state_counter"), plugintest.Build(t, "state_counter_v2")
	for i, want := range []string{"1", "2", "3"} {
		args := []string{"--state", state, v1, "counter_bump"}
		if i != 1 {
			args = append([]string{"--isolate"}, args...)
		}
		if got := callOK(t, args...); got != want {
			t.Errorf("run %d (%v): %s, want %s", i+1, args, got, want)
		}
	}
	if got := callOK(t, "--isolate", "--state", state, v2, "counter_bump"); got != "4" {
		t.Errorf("layout 2 after an isolated migration: %s, want 4", got)
	}
	code, _, stderr := runCmd(t, "call", "--isolate", "--state", state, v1, "counter_get")
	if code != exitError || !strings.Contains(stderr, "state migration failed") || !strings.Contains(stderr, "runplug_state_migrate") {
		t.Errorf("isolated, layout 1 over layout 2: exit %d, %q", code, stderr)
	}
}
