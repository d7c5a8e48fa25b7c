package loader_test

import (
	"context"
	"errors"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/loader"
)

// foreignIsolation has the method set of loader.Options.Isolation's
// interface but is not an isolate.Isolator.
type foreignIsolation struct{}

func (foreignIsolation) Prestart() error                 { return nil }
func (foreignIsolation) Close(ctx context.Context) error { return nil }

// TestForeignIsolation: an Isolation that is not package isolate's is
// refused with ErrUnsupported at the load, not called.
func TestForeignIsolation(t *testing.T) {
	ctx := context.Background()
	l := loader.New(loader.Options{Isolation: foreignIsolation{}})
	defer l.Close(ctx)
	_, err := l.Load(ctx, plugintest.Build(t, "isolate_faults"))
	if !errors.Is(err, loader.ErrUnsupported) {
		t.Fatalf("Load with a foreign Isolation: %v, want ErrUnsupported", err)
	}
}
