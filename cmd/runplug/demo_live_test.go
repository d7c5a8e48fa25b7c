package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
	"github.com/runplug/runplug/loader"
)

// TestDemoStateBuiltFromSource checks that the embedded demo_state.so was
// built from the current plugins/demo_state.c.
func TestDemoStateBuiltFromSource(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(plugintest.Dir(), "demo_state.c"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(src)
	if got, want := demoStringSymbol(t, demoStateSO, "demo_source_sha256"), hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("embedded demo_state.so was built from a demo_state.c with sha256 %s; plugins/demo_state.c has %s: run go generate ./cmd/runplug", got, want)
	}
	disk, err := os.ReadFile(filepath.Join("demo", "demo_state.so"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(disk, demoStateSO) {
		t.Fatal("demo/demo_state.so differs from the embedded copy")
	}
}

// TestDemoReload runs the demo's reload step: it checks itself (each
// value is compared with what it prints), and the output shows it.
func TestDemoReload(t *testing.T) {
	testenv.NeedPort(t, runtime.GOARCH == "amd64", "the committed demo.so (built for x86-64)")
	var out bytes.Buffer
	if err := demoReload(context.Background(), &out, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"demo_visit() x3          = 1, 2, 3", "generation 2 serving after", "= 4         (the state region carried over)", "= 1         (its .bss counter started afresh)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("reload step lacks %q:\n%s", want, out.String())
		}
	}
}

// TestDemoReloadBounded: the demo's --timeout bounds the reload step too. A
// context whose deadline has passed stops it at its first step with the
// deadline's error, before any call into the plugin.
func TestDemoReloadBounded(t *testing.T) {
	testenv.NeedPort(t, runtime.GOARCH == "amd64", "the committed demo.so (built for x86-64)")
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer cancel()
	var out bytes.Buffer
	err := demoReload(ctx, &out, nil)
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, loader.ErrDeadline) {
		t.Fatalf("demoReload with a passed deadline = %v, want the deadline's error", err)
	}
	if strings.Contains(out.String(), "demo_visit()") {
		t.Errorf("a call ran past the deadline:\n%s", out.String())
	}
}
