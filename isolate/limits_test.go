//go:build linux && (amd64 || arm64) && cgo

package isolate_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// TestMemoryTooSmall: a Policy.Memory too small to start the child fails
// the load with an error that gives the least figure that would do, and
// that figure does.
func TestMemoryTooSmall(t *testing.T) {
	needKernel(t)
	path := plugintest.Build(t, "isolate_faults")
	l, _ := newLoader(t, loader.Options{}, isolate.Options{Policy: isolate.Policy{Memory: 64 << 20}})
	_, err := l.Load(context.Background(), path)
	m := regexp.MustCompile(`Policy.Memory of 64 MiB is too small: .* at least (\d+) MiB are needed`).FindStringSubmatch(fmt.Sprint(err))
	if m == nil {
		t.Fatalf("load under 64 MiB: %v; want the figure needed", err)
	}
	if !errors.Is(err, isolate.ErrPolicyTooSmall) || strings.Count(err.Error(), "too small") != 2 {
		t.Errorf("load under 64 MiB: %v; want isolate.ErrPolicyTooSmall", err)
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

// TestThreadsTooSmall: a Policy.Threads below what the child's runtime
// and channels need fails the load with ErrPolicyTooSmall and the least
// figure that would do (before, the runtime's failed pthread_create
// ended the child with exit status 2 at some later moment); that figure
// serves calls on every channel at once.
func TestThreadsTooSmall(t *testing.T) {
	needKernel(t)
	path := plugintest.Build(t, "isolate_faults")
	l, _ := newLoader(t, loader.Options{}, isolate.Options{Policy: isolate.Policy{Threads: 3}})
	_, err := l.Load(context.Background(), path)
	m := regexp.MustCompile(`Policy.Threads of 3 is too small: .* at least (\d+) are needed`).FindStringSubmatch(fmt.Sprint(err))
	if m == nil || !errors.Is(err, isolate.ErrPolicyTooSmall) {
		t.Fatalf("load with 3 threads: %v; want ErrPolicyTooSmall and the figure needed", err)
	}
	t.Log(err)
	need, _ := strconv.Atoi(m[1])
	l2, _ := newLoader(t, loader.Options{}, isolate.Options{Policy: isolate.Policy{Threads: need}})
	p, err := l2.Load(context.Background(), path)
	if err != nil {
		t.Fatalf("load with the %d threads the error asked for: %v", need, err)
	}
	add := fn(t, p, "add")
	errs := make(chan error, 4)
	for g := range 4 { // the default pool: every channel busy
		go func() {
			var err error
			for i := 0; i < 200 && err == nil; i++ {
				var r uint64
				if r, err = add.Call(context.Background(), uint64(g), uint64(i)); err == nil && r != uint64(g+i) {
					err = fmt.Errorf("add(%d, %d) = %d", g, i, r)
				}
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatalf("%d threads: %v", need, err)
		}
	}
}
