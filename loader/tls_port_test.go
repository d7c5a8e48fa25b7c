package loader

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/tlsrt"
)

// TestTLSUnportedRefused: where plugins run but the TLS runtime is not
// built (linux/arm64 until issue 24 brings TLS variant I), a plugin with
// thread-local storage is refused at load with ErrUnsupported naming
// thread-local storage, not blamed on the platform, and the loader goes
// on loading other plugins.
func TestTLSUnportedRefused(t *testing.T) {
	if tlsrt.Supported || !pcall.Supported {
		t.Skip("only where plugins run without the TLS runtime (linux/arm64, issue 24)")
	}
	l := newLoader(t, Options{})
	_, err := l.Load(context.Background(), plugintest.Build(t, "tls_basic"))
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "thread-local storage") {
		t.Fatalf("Load(tls_basic) = %v, want ErrUnsupported naming thread-local storage", err)
	}
	if got := call(t, load(t, l, "basic"), "add", 2, 3); got != 5 {
		t.Errorf("add(2, 3) after the refusal = %d, want 5", got)
	}
}
