package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Register limits of a call: the System V x86-64 ABI passes the first six
// integer or pointer arguments and the first eight doubles in registers.
const (
	maxIntArgs   = 6
	maxFloatArgs = 8
)

// callArgs is the parsed ARG list of `runplug call`.
type callArgs struct {
	Int   []uint64  // integer registers in order; string slots hold 0 until filled
	Float []float64 // double registers in order
	// Texts are the s:TEXT arguments and StrSlot the index into Int each
	// one's pointer goes to.
	Texts   []string
	StrSlot []int
}

// parseCallArgs parses ARGs: an integer (decimal, 0x hex, negative),
// d:REAL for a double or s:TEXT for a pointer to a NUL-terminated copy of
// TEXT. Integers and strings fill the integer registers in the order given,
// doubles the floating-point registers.
func parseCallArgs(args []string) (*callArgs, error) {
	ca := &callArgs{}
	for i, a := range args {
		switch {
		case strings.HasPrefix(a, "d:"):
			v, err := strconv.ParseFloat(a[2:], 64)
			if err != nil {
				return nil, fmt.Errorf("argument %d: %q is not a double", i+1, a)
			}
			if len(ca.Float) == maxFloatArgs {
				return nil, fmt.Errorf("argument %d: more than %d double arguments", i+1, maxFloatArgs)
			}
			ca.Float = append(ca.Float, v)
		case strings.HasPrefix(a, "s:"):
			if strings.IndexByte(a, 0) >= 0 {
				return nil, fmt.Errorf("argument %d: string contains a NUL byte", i+1)
			}
			if len(ca.Int) == maxIntArgs {
				return nil, fmt.Errorf("argument %d: more than %d integer or string arguments", i+1, maxIntArgs)
			}
			ca.StrSlot = append(ca.StrSlot, len(ca.Int))
			ca.Texts = append(ca.Texts, a[2:])
			ca.Int = append(ca.Int, 0)
		default:
			v, err := parseInt(a)
			if err != nil {
				return nil, fmt.Errorf("argument %d: %w (want an integer, d:REAL or s:TEXT)", i+1, err)
			}
			if len(ca.Int) == maxIntArgs {
				return nil, fmt.Errorf("argument %d: more than %d integer or string arguments", i+1, maxIntArgs)
			}
			ca.Int = append(ca.Int, v)
		}
	}
	return ca, nil
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
var retKinds = []string{"int", "uint", "hex", "double", "str", "void"}

// formatResult formats a call's result registers as --ret asks: ri is
// RAX, rf is XMM0. For "str" it reads the C string ri points to ("(null)"
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
