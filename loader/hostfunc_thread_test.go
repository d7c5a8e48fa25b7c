package loader

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestHostFuncPanicOnPluginThread: a host function that panics on a thread
// the plugin created (no plugin call to end there) returns 0 to the plugin,
// the panic is logged, and the process and the plugin carry on.
func TestHostFuncPanicOnPluginThread(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	var log syncBuffer
	l := newLoader(t, Options{Logger: hclog.New(&hclog.LoggerOptions{Output: &log, Level: hclog.Error})})
	var h hostCalls
	h.register(t, l, func(x int64) int64 { return x }) // the other imports
	l.host.mu.Lock()
	old := l.host.fns["host_add"]
	l.host.mu.Unlock()
	l.host.release(old)
	release, err := l.RegisterHostFunc("host_add", func(a, b int64) int64 {
		if a < 0 {
			panic("negative")
		}
		return a + b
	})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	p := load(t, l, "host_calls")
	f, err := Bind2[int64, int64, int64](fnOf(t, p, "call_add_thread"))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := f(context.Background(), -1, 5); err != nil || r != 0 {
		t.Fatalf("call_add_thread(-1, 5) = %d, %v; want 0 (the panicking host function's zero)", r, err)
	}
	if s := log.String(); !strings.Contains(s, "host function panicked outside a plugin call") || !strings.Contains(s, "negative") {
		t.Fatalf("log: %q", s)
	}
	if r, err := f(context.Background(), 2, 5); err != nil || r != 7 {
		t.Fatalf("call_add_thread(2, 5) after the panic = %d, %v", r, err)
	}
}
