package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/runplug/runplug/abi"
	"github.com/runplug/runplug/loader"
)

// callArg is one ARG of `runplug call`.
type callArg struct {
	Kind  byte    // 'i' an integer, 'd' a double, 'f' a float, 's' a C string
	Int   uint64  // 'i': the register's 64 bits
	Float float64 // 'd', 'f' (a float's value, exactly representable)
	Text  string  // 's'
}

// callArgs is the parsed ARG list of `runplug call`.
type callArgs struct {
	Args []callArg
	// NFixed is the number of arguments before the "..." marker of a
	// variadic call (the declared ones), or -1 when there is none.
	NFixed int
	// Types are the C types of the arguments when a declaration gave
	// them (--sig); nil otherwise (each ARG's syntax says).
	Types []*abi.Type
	// Result is the declared result type (--sig), or nil: --ret says.
	Result *abi.Type
}

// varMarker is the ARG that separates the fixed arguments of a variadic
// function from the variable part.
const varMarker = "..."

// parseCallArgs parses ARGs: an integer (decimal, 0x hex, negative),
// d:REAL for a double, f:REAL for a float, s:TEXT for a pointer to a
// NUL-terminated copy of TEXT, and at most one "..." where a variadic
// call's variable part starts. Any number of each: the SysV ABI passes the
// first six integers and eight floating-point values in registers, the
// rest on the stack.
func parseCallArgs(args []string) (*callArgs, error) {
	ca := &callArgs{NFixed: -1}
	for i, a := range args {
		switch {
		case a == varMarker:
			if ca.NFixed >= 0 {
				return nil, fmt.Errorf("argument %d: a second %q", i+1, varMarker)
			}
			ca.NFixed = len(ca.Args)
		case strings.HasPrefix(a, "d:"):
			v, err := strconv.ParseFloat(a[2:], 64)
			if err != nil {
				return nil, fmt.Errorf("argument %d: %q is not a double", i+1, a)
			}
			ca.Args = append(ca.Args, callArg{Kind: 'd', Float: v})
		case strings.HasPrefix(a, "f:"):
			v, err := strconv.ParseFloat(a[2:], 32)
			if err != nil {
				return nil, fmt.Errorf("argument %d: %q is not a float", i+1, a)
			}
			ca.Args = append(ca.Args, callArg{Kind: 'f', Float: v})
		case strings.HasPrefix(a, "s:"):
			if strings.IndexByte(a, 0) >= 0 {
				return nil, fmt.Errorf("argument %d: string contains a NUL byte", i+1)
			}
			ca.Args = append(ca.Args, callArg{Kind: 's', Text: a[2:]})
		default:
			v, err := parseInt(a)
			if err != nil {
				return nil, fmt.Errorf("argument %d: %w (want an integer, d:REAL, f:REAL, s:TEXT or %s)", i+1, err, varMarker)
			}
			ca.Args = append(ca.Args, callArg{Kind: 'i', Int: v})
		}
	}
	return ca, nil
}

// Texts returns the s:TEXT arguments, in order.
func (ca *callArgs) Texts() []string {
	var ts []string
	for _, a := range ca.Args {
		if a.Kind == 's' {
			ts = append(ts, a.Text)
		}
	}
	return ts
}

// signature returns the C signature of the call, with the result type
// --ret names, and its argument values (addrs are the s:TEXT copies'
// addresses, in order).
func (ca *callArgs) signature(ret string, addrs []uint64) (*loader.Signature, []any, error) {
	types := make([]*abi.Type, len(ca.Args))
	vals := make([]any, len(ca.Args))
	si := 0
	for i, a := range ca.Args {
		switch a.Kind {
		case 'i':
			types[i], vals[i] = abi.Int64, a.Int
			if ca.Types != nil {
				types[i] = ca.Types[i]
			}
		case 'd':
			types[i], vals[i] = abi.Float64, a.Float
		case 'f':
			types[i], vals[i] = abi.Float32, float32(a.Float)
		case 's':
			types[i], vals[i] = abi.Pointer, uintptr(addrs[si])
			si++
		}
	}
	var rt *abi.Type
	switch {
	case ca.Result != nil:
		rt = ca.Result
	case ret == "void":
		rt = abi.Void
	case ret == "double":
		rt = abi.Float64
	case ret == "float":
		rt = abi.Float32
	default: // int, uint, hex, str: all of rax
		rt = abi.Uint64
	}
	var sig *loader.Signature
	var err error
	if ca.NFixed >= 0 {
		sig, err = loader.NewVariadicSignature(rt, ca.NFixed, types...)
	} else {
		sig, err = loader.NewSignature(rt, types...)
	}
	return sig, vals, err
}

// parseInt parses a decimal or 0x-prefixed hexadecimal integer with an
// optional minus sign, into the 64 bits of a register: values from
// -2^63 to 2^64-1 are accepted (a negative value is its two's complement).
func parseInt(s string) (uint64, error) {
	neg := false
	digits := s
	if strings.HasPrefix(digits, "-") {
		neg, digits = true, digits[1:]
	}
	base := 10
	if strings.HasPrefix(digits, "0x") || strings.HasPrefix(digits, "0X") {
		base, digits = 16, digits[2:]
	}
	if digits == "" || strings.ContainsAny(digits, "+-_") {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	v, err := strconv.ParseUint(digits, base, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a 64-bit integer", s)
	}
	if neg {
		if v > 1<<63 {
			return 0, fmt.Errorf("%q is below -2^63", s)
		}
		return -v, nil
	}
	return v, nil
}

// retKinds are the --ret values.
var retKinds = []string{"int", "uint", "hex", "double", "float", "str", "void"}

// formatResult formats a call's result registers as --ret asks: ri is
// RAX, rf is XMM0 (for "float", the float it held, converted). For "str" it reads the C string ri points to ("(null)"
// for a NULL pointer).
func formatResult(kind string, ri uint64, rf float64) (string, error) {
	switch kind {
	case "int":
		return strconv.FormatInt(int64(ri), 10), nil
	case "uint":
		return strconv.FormatUint(ri, 10), nil
	case "hex":
		return fmt.Sprintf("%#x", ri), nil
	case "double":
		if math.IsInf(rf, 0) || math.IsNaN(rf) {
			return fmt.Sprint(rf), nil
		}
		return strconv.FormatFloat(rf, 'g', -1, 64), nil
	case "float":
		if math.IsInf(rf, 0) || math.IsNaN(rf) {
			return fmt.Sprint(rf), nil
		}
		return strconv.FormatFloat(rf, 'g', -1, 32), nil
	case "str":
		if ri == 0 {
			return "(null)", nil
		}
		return readCString(ri)
	case "void":
		return "", nil
	}
	return "", fmt.Errorf("unknown result kind %q", kind)
}
