package loader

import (
	"context"
	"testing"
)

type valueKey struct{}

// TestNeverDone: only the contexts whose Done is always nil by their type
// skip the call to Done; every other context still answers through it.
func TestNeverDone(t *testing.T) {
	cancelable, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want bool
	}{
		{"Background", context.Background(), true},
		{"TODO", context.TODO(), true},
		{"WithCancel", cancelable, false},
		{"WithValue on Background", context.WithValue(context.Background(), valueKey{}, 1), false},
		{"WithoutCancel", context.WithoutCancel(cancelable), false},
		{"nil", nil, false},
	} {
		if got := neverDone(tc.ctx); got != tc.want {
			t.Errorf("neverDone(%s) = %v, want %v", tc.name, got, tc.want)
		}
		if tc.want && tc.ctx.Done() != nil {
			t.Errorf("%s: neverDone, but Done() is not nil", tc.name)
		}
	}
}
