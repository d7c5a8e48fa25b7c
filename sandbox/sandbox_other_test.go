//go:build !(linux && (amd64 || arm64) && cgo)

package sandbox_test

import (
	"context"
	"errors"
	"testing"

	"github.com/runplug/runplug/sandbox"
)

func TestCallUnsupported(t *testing.T) {
	if _, err := sandbox.Call(context.Background(), 1); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Call = %v, want errors.ErrUnsupported", err)
	}
}
