//go:build linux && amd64 && cgo

package isolate_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// TestMemoryTooSmall: a Policy.Memory too small to start the child fails
// the load with an error that gives the least figure that would do, and
// that figure does.
func TestMemoryTooSmall(t *testing.T) {
	path := plugintest.Build(t, "isolate_faults")
	l, _ := newLoader(t, loader.Options{}, isolate.Options{Policy: isolate.Policy{Memory: 64 << 20}})
	_, err := l.Load(context.Background(), path)
	m := regexp.MustCompile(`Policy.Memory of 64 MiB is too small: .* at least (\d+) MiB are needed`).FindStringSubmatch(fmt.Sprint(err))
	if m == nil {
		t.Fatalf("load under 64 MiB: %v; want the figure needed", err)
	}
	need, _ := strconv.ParseUint(m[1], 10, 64)
	t.Logf("%v", err)
	l2, _ := newLoader(t, loader.Options{}, isolate.Options{Policy: isolate.Policy{Memory: need << 20}})
	p, err := l2.Load(context.Background(), path)
	if err != nil {
		t.Fatalf("load under the %d MiB the error asked for: %v", need, err)
	}
	if v, err := call(t, p, "add", 2, 3); err != nil || v != 5 {
		t.Fatalf("add = %d, %v", v, err)
	}
}
