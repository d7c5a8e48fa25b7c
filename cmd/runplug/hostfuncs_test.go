package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
)

// TestCallBuiltinHostFuncs runs plugins that log through runplug_log and
// read runplug_now_ns (plugins/runplug.h).
func TestCallBuiltinHostFuncs(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	so := plugintest.Build(t, "host_builtin")
	tests := []struct {
		name       string
		args       []string
		wantOut    string // "" = check wantNonNeg instead
		wantNonNeg bool
		wantErr    string
	}{
		{"log info", []string{so, "greet", "21"}, "42\n", false, "plugin: INFO: hello from host_builtin, n=21\n"},
		{"log negative", []string{so, "greet", "-5"}, "-10\n", false, "plugin: INFO: hello from host_builtin, n=-5\n"},
		{"clock and warn", []string{so, "elapsed", "0"}, "", true, "plugin: WARN: elapsed: nothing to time\n"},
		{"clock", []string{so, "elapsed", "100000"}, "", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCmd(t, append([]string{"call"}, tt.args...)...)
			if code != exitOK || errs != tt.wantErr {
				t.Fatalf("exit %d, stderr %q; want 0, %q", code, errs, tt.wantErr)
			}
			if tt.wantNonNeg {
				n, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
				if err != nil || n < 0 {
					t.Fatalf("output %q, want a non-negative duration", out)
				}
				return
			}
			if out != tt.wantOut {
				t.Fatalf("output %q, want %q", out, tt.wantOut)
			}
		})
	}
}

// TestCallMissingHostFunc: a plugin importing host functions `runplug
// call` does not have fails to load with one line naming the symbol.
func TestCallMissingHostFunc(t *testing.T) {
	so := plugintest.Build(t, "host_calls")
	code, out, errs := runCmd(t, "call", so, "call_add", "1", "2")
	if code != exitError || out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "host_") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// TestInspectHostImports checks which imports inspect says the host must
// provide, in JSON and text.
func TestInspectHostImports(t *testing.T) {
	dir := t.TempDir()
	// ver_user needs ver_lib: copied alone, the library is missing.
	orphan := filepath.Join(dir, "ver_user.so")
	b, err := os.ReadFile(plugintest.Build(t, "ver_user"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(orphan, b, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		path        string
		wantHost    []string
		wantBuiltin []string
		wantMissing []string
	}{
		{"built-ins", plugintest.Build(t, "host_builtin"), []string{"runplug_log", "runplug_now_ns"}, []string{"runplug_log", "runplug_now_ns"}, nil},
		{"host functions", plugintest.Build(t, "host_calls"), []string{"host_add", "host_half", "host_mix", "host_note", "host_panic", "host_raw", "host_reenter", "host_strlen"}, nil, nil},
		{"libc only", plugintest.Build(t, "basic"), nil, nil, nil},
		{"defined by a needed library", plugintest.Build(t, "ver_user"), nil, nil, nil},
		{"needed library missing", orphan, nil, nil, []string{"ver_lib.so"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := inspectJSON(t, tt.path)
			var host, builtin []string
			for _, im := range rep.Imports {
				if im.Host {
					host = append(host, im.Name)
				}
				if im.Builtin {
					builtin = append(builtin, im.Name)
				}
				if im.Weak && im.Host {
					t.Errorf("weak import %s marked host", im.Name)
				}
			}
			if strings.Join(host, ",") != strings.Join(tt.wantHost, ",") {
				t.Errorf("host imports %v, want %v", host, tt.wantHost)
			}
			if strings.Join(builtin, ",") != strings.Join(tt.wantBuiltin, ",") {
				t.Errorf("built-in imports %v, want %v", builtin, tt.wantBuiltin)
			}
			if strings.Join(rep.NeededMissing, ",") != strings.Join(tt.wantMissing, ",") {
				t.Errorf("needed_missing %v, want %v", rep.NeededMissing, tt.wantMissing)
			}
			code, out, _ := runCmd(t, "inspect", tt.path)
			if code != exitOK {
				t.Fatalf("inspect exit %d", code)
			}
			sec := out[strings.Index(out, "\nhost functions ("):]
			sec = sec[:strings.Index(sec, "\nrelocations")]
			if !strings.Contains(sec, "host functions ("+strconv.Itoa(len(tt.wantHost))+")") {
				t.Errorf("text section:\n%s", sec)
			}
			for _, n := range tt.wantHost {
				if !strings.Contains(sec, "\n  "+n+" ") {
					t.Errorf("text section does not list %s:\n%s", n, sec)
				}
			}
			if len(tt.wantMissing) > 0 && !strings.Contains(sec, "not found") {
				t.Errorf("text section does not say a needed library is missing:\n%s", sec)
			}
		})
	}
}
