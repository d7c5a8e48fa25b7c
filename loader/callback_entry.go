package loader

import "github.com/runplug/runplug/internal/callconv"

// entryLacks names what of plan, a callback's or host function's C type,
// the callback entry of this architecture cannot serve, or returns "": on
// arm64 a variadic Go function, whose VarArgs reader walks SysV's
// registers (issue 24).
func entryLacks(plan *callconv.Plan, variadic bool) string {
	if plan.Conv == callconv.AAPCS64 && variadic {
		return "a variadic Go function (VarArgs) on linux/arm64 (issue 24)"
	}
	return ""
}
