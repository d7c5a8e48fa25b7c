package pcall

import (
	"slices"
	"testing"
)

// TestFusePairs: only two 8-byte, unconverted moves of consecutive
// eightbytes of one value to consecutive stack words fuse, paired from the
// value's first eightbyte; everything else is kept as it was.
func TestFusePairs(t *testing.T) {
	s := func(arg, src, dst uint32) GatherMove {
		return GatherMove{Arg: arg, Src: src, Dst: GatherRegs + dst, Size: 8}
	}
	pair := func(m GatherMove) GatherMove { m.Size = gatherPair; return m }
	reg := GatherMove{Arg: 0, Src: 0, Dst: 1, Size: 8}
	sext := GatherMove{Arg: 1, Src: 8, Dst: GatherRegs + 1, Size: 4, Conv: GatherSext}
	for _, tc := range []struct {
		name  string
		moves []GatherMove
		fused []GatherMove // on amd64
	}{
		{"24-byte value on the stack", []GatherMove{s(0, 0, 0), s(0, 8, 1), s(0, 16, 2)}, []GatherMove{pair(s(0, 0, 0)), s(0, 16, 2)}},
		{"32-byte value", []GatherMove{s(0, 0, 0), s(0, 8, 1), s(0, 16, 2), s(0, 24, 3)}, []GatherMove{pair(s(0, 0, 0)), pair(s(0, 16, 2))}},
		{"two values", []GatherMove{s(0, 0, 0), s(1, 8, 1)}, []GatherMove{s(0, 0, 0), s(1, 8, 1)}},
		{"not consecutive words", []GatherMove{s(0, 0, 0), s(0, 8, 2)}, []GatherMove{s(0, 0, 0), s(0, 8, 2)}},
		{"not consecutive bytes", []GatherMove{s(0, 0, 0), s(0, 16, 1)}, []GatherMove{s(0, 0, 0), s(0, 16, 1)}},
		{"registers", []GatherMove{reg, {Arg: 0, Src: 8, Dst: 2, Size: 8}}, []GatherMove{reg, {Arg: 0, Src: 8, Dst: 2, Size: 8}}},
		{"a converted move", []GatherMove{s(1, 0, 0), sext}, []GatherMove{s(1, 0, 0), sext}},
		{"a short last eightbyte", []GatherMove{s(0, 0, 0), {Arg: 0, Src: 8, Dst: GatherRegs + 1, Size: 4}}, []GatherMove{s(0, 0, 0), {Arg: 0, Src: 8, Dst: GatherRegs + 1, Size: 4}}},
	} {
		want := tc.moves
		if gatherPairs {
			want = tc.fused
		}
		if got := fusePairs(tc.moves); !slices.Equal(got, want) {
			t.Errorf("%s: fusePairs = %+v, want %+v", tc.name, got, want)
		}
	}
}
