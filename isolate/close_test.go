//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"errors"
	"fmt"
	"testing"

	"github.com/runplug/runplug/internal/pcall"
)

// TestCloseCause: what the child reports of a failed Close drops the
// loader's own context (the host's loader adds it again), and nothing
// else.
func TestCloseCause(t *testing.T) {
	cause := fmt.Errorf("sandbox: close gate: membarrier: %w", errors.ErrUnsupported)
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("loader: close p.so: %w", cause), cause.Error()},
		{fmt.Errorf("loader: close p.so: %w", pcall.ErrCloseInCall), pcall.ErrCloseInCall.Error()},
		{cause, cause.Error()},
		{fmt.Errorf("loader: load p.so: %w", cause), "loader: load p.so: " + cause.Error()},
		{errors.New("loader: close p.so: no cause to unwrap"), "loader: close p.so: no cause to unwrap"},
	}
	for _, tt := range tests {
		got := closeCause(tt.err)
		if got.Error() != tt.want {
			t.Errorf("closeCause(%q) = %q, want %q", tt.err, got, tt.want)
		}
		if errors.Is(tt.err, errors.ErrUnsupported) && !errors.Is(got, errors.ErrUnsupported) {
			t.Errorf("closeCause(%q) lost the sentinel", tt.err)
		}
	}
}
