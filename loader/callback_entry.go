package loader

import (
	"fmt"

	"github.com/runplug/runplug/internal/callconv"
)

// entryLacks names what of plan, a callback's or host function's C type,
// the callback entry of this architecture cannot serve, or returns "".
// The arm64 entry (internal/pcall's callback_arm64.S) saves x0-x5 and
// d0-d7 and returns x0, x1, d0 and d1: x6 and x7, the result buffer's
// address in x8, and v2 and v3 are not reached yet (issue 24); and the
// VarArgs reader walks SysV's registers.
func entryLacks(plan *callconv.Plan, variadic bool) string {
	if plan.Conv != callconv.AAPCS64 {
		return ""
	}
	switch {
	case variadic:
		return "a variadic Go function (VarArgs) on linux/arm64 (issue 24)"
	case plan.Result.InMemory:
		return "a result returned in memory (its buffer's address in x8) on linux/arm64 (issue 24)"
	}
	for _, p := range plan.Result.Parts {
		if p.Class == callconv.SSE && p.Reg >= 2 {
			return "a floating-point aggregate result of more than two members (v2, v3) on linux/arm64 (issue 24)"
		}
	}
	for i, a := range plan.Args {
		for _, p := range a.Parts {
			if p.Class == callconv.Integer && p.Reg >= 6 {
				return fmt.Sprintf("argument %d in x%d: the arm64 callback entry saves x0-x5 (issue 24)", i, p.Reg)
			}
		}
	}
	return ""
}
