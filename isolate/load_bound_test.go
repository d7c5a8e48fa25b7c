//go:build linux && (amd64 || arm64) && cgo

package isolate_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// TestLoadBoundedByContext: a constructor that never returns holds a Load
// only until its ctx is done, in process (the constructor is interrupted)
// and isolated (the child is killed), with and without a spare child; the
// Loader then loads again.
func TestLoadBoundedByContext(t *testing.T) {
	needKernel(t)
	hang := plugintest.Build(t, "ctor_spin")
	ok := plugintest.Build(t, "isolate_faults")
	for _, tc := range []struct {
		name string
		iso  *isolate.Options
	}{
		{"in-process", nil},
		{"isolated", &isolate.Options{}},
		{"isolated-spare", &isolate.Options{Spare: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l *loader.Loader
			if tc.iso != nil {
				var iso *isolate.Isolator
				l, iso = newLoader(t, loader.Options{}, *tc.iso)
				t.Cleanup(func() { iso.Close(context.Background()) }) // its spare too
			} else {
				l = loader.New(loader.Options{})
				t.Cleanup(func() { l.Close(context.Background()) })
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			if _, err := l.Load(ctx, hang); !errors.Is(err, loader.ErrDeadline) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Load with a hanging constructor = %v, want ErrDeadline and context.DeadlineExceeded", err)
			}
			p, err := l.Load(context.Background(), ok)
			if err != nil {
				t.Fatalf("a Load after the bounded one: %v", err)
			}
			if r, err := p.Func("add"); err != nil {
				t.Fatal(err)
			} else if v, err := r.Call(context.Background(), 2, 3); err != nil || v != 5 {
				t.Errorf("add(2, 3) = %d, %v", v, err)
			}
		})
	}
}
