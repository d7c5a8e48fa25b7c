package runplug_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/loader"
)

// limitsChildEnv names the function of inproc_limits a child of
// TestInProcessLimits calls.
const limitsChildEnv = "RUNPLUG_LIMITS_CHILD"

// TestInProcessLimits holds README.md's "What is protected" table to what
// runplug does in process: a plugin's exit(7) ends the host with status 7,
// and a plugin that resets SIGSEGV to its default action and then faults
// ends the host by SIGSEGV. Each runs in a child process (this test binary
// again). When runplug learns to contain either, this test fails and the
// README's table must say so.
func TestInProcessLimits(t *testing.T) {
	if fn := os.Getenv(limitsChildEnv); fn != "" {
		l := loader.New(loader.Options{})
		p, err := l.Load(context.Background(), plugintest.Build(t, "inproc_limits"))
		if err != nil {
			t.Fatal(err)
		}
		f, err := p.Func(fn)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Call(7)
		t.Fatalf("%s returned to the host: %v", fn, err) // exit status 1: not what the parent wants
	}
	plugintest.Build(t, "inproc_limits") // built once, here, for the children
	for _, tt := range []struct {
		fn     string
		status int
		signal syscall.Signal
	}{
		{fn: "leave", status: 7},
		{fn: "reset_segv_then_fault", status: -1, signal: syscall.SIGSEGV},
	} {
		t.Run(tt.fn, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestInProcessLimits$")
			cmd.Env = append(os.Environ(), limitsChildEnv+"="+tt.fn)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("child: %v, want it ended by the plugin\n%s", err, out)
			}
			ws := ee.Sys().(syscall.WaitStatus)
			switch {
			case tt.signal != 0 && (!ws.Signaled() || ws.Signal() != tt.signal):
				t.Errorf("child ended with %v, want killed by %v\n%s", ee, tt.signal, out)
			case tt.signal == 0 && ws.ExitStatus() != tt.status:
				t.Errorf("child ended with %v, want exit status %d\n%s", ee, tt.status, out)
			}
		})
	}
}
