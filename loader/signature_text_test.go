package loader

import (
	"strings"
	"testing"
)

// TestSignatureErrorCountsFrom1: argument positions read from 1, as the
// command's do ("argument 1" is the first), while Index stays 0-based.
func TestSignatureErrorCountsFrom1(t *testing.T) {
	for _, tt := range []struct {
		index int
		want  string
	}{
		{0, "loader: bind f: argument 1: bad"},
		{5, "loader: bind f: argument 6: bad"},
		{-1, "loader: bind f: result: bad"},
		{-2, "loader: bind f: signature: bad"},
	} {
		got := (&SignatureError{Symbol: "f", Index: tt.index, Reason: "bad"}).Error()
		if !strings.HasPrefix(got, tt.want) {
			t.Errorf("Index %d: %q, want %q", tt.index, got, tt.want)
		}
	}
}
