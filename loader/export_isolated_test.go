package loader

import "github.com/runplug/runplug/abi"

// FFICase is an ffiCases entry for the external tests that run the same
// calls in process and isolated (signature_isolated_test.go).
type FFICase struct {
	Name   string
	Ret    *abi.Type
	NFixed int
	Args   []*abi.Type
	Vals   []any
}

// FFICases returns ffiCases.
func FFICases() []FFICase {
	out := make([]FFICase, len(ffiCases))
	for i, c := range ffiCases {
		out[i] = FFICase{c.name, c.ret, c.nfixed, c.args, c.vals}
	}
	return out
}

// DataMask is dataMask.
func DataMask(t *abi.Type) []bool { return dataMask(t) }
