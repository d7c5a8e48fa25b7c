package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/runplug/runplug/abi"
	"github.com/runplug/runplug/internal/callconv"
)

// `runplug call --sig DECL`: the C declaration of SYMBOL says what each
// ARG must be, so that an argument that does not fit is converted or
// refused instead of landing in the wrong register (an integer given to a
// function that reads xmm0 computes with whatever xmm0 held).

// sigCallArgs converts args for the declared parameters of fd: each ARG
// is read as its parameter's type asks (an integer range-checked for its
// width, a real number for float and double, the text itself for a char
// pointer); a missing argument, or an extra one for a function that is
// not variadic, is an error. A variadic function's extra arguments are
// read as without --sig (integer, d:, f:, s:).
func sigCallArgs(fd *abi.FuncDecl, args []string) (*callArgs, error) {
	n := len(fd.Params)
	if len(args) > n && args[n] == varMarker {
		args = append(args[:n:n], args[n+1:]...) // the marker is where the declaration says anyway
	}
	if len(args) < n {
		p := fd.Params[len(args)]
		return nil, fmt.Errorf("missing argument %d (%s): the declaration takes %d, %d given", len(args)+1, paramLabel(p), n, len(args))
	}
	if len(args) > n && !fd.Variadic {
		return nil, fmt.Errorf("argument %d: %q is one too many: the declaration takes %d", n+1, args[n], n)
	}
	ca := &callArgs{NFixed: -1, Types: make([]*abi.Type, 0, len(args))}
	for i, p := range fd.Params {
		a, err := convertArg(p, args[i])
		if err != nil {
			return nil, fmt.Errorf("argument %d (%s): %w", i+1, paramLabel(p), err)
		}
		ca.Args = append(ca.Args, a)
		ca.Types = append(ca.Types, p.Type)
	}
	if fd.Variadic {
		ca.NFixed = n
		rest, err := parseCallArgs(args[n:])
		if err != nil {
			return nil, fmt.Errorf("variable part: %w", err)
		}
		if rest.NFixed >= 0 {
			return nil, fmt.Errorf("argument %d: a second %q", n+rest.NFixed+1, varMarker)
		}
		for _, a := range rest.Args {
			ca.Args = append(ca.Args, a)
			ca.Types = append(ca.Types, untypedArgType(a))
		}
	}
	return ca, nil
}

// paramLabel names a parameter for messages: "const char *s" or "double".
func paramLabel(p abi.Param) string {
	if p.Name == "" {
		return p.Spelling
	}
	if strings.HasSuffix(p.Spelling, "*") {
		return p.Spelling + p.Name
	}
	return p.Spelling + " " + p.Name
}

// convertArg reads s as a value of p's type.
func convertArg(p abi.Param, s string) (callArg, error) {
	t := p.Type
	switch k := callconv.KindOf(t); {
	case k.IsFloat():
		text := s
		if rest, ok := strings.CutPrefix(s, "d:"); ok {
			text = rest
		} else if rest, ok := strings.CutPrefix(s, "f:"); ok {
			text = rest
		}
		bits := 64
		if k == callconv.KindFloat32 {
			bits = 32
		}
		v, err := strconv.ParseFloat(text, bits)
		if err != nil {
			return callArg{}, fmt.Errorf("%q is not a %s", s, p.Spelling)
		}
		if k == callconv.KindFloat32 {
			return callArg{Kind: 'f', Float: v}, nil
		}
		return callArg{Kind: 'd', Float: v}, nil
	case k == callconv.KindPointer && p.CString:
		return callArg{Kind: 's', Text: strings.TrimPrefix(s, "s:")}, nil
	case k == callconv.KindPointer:
		if text, ok := strings.CutPrefix(s, "s:"); ok {
			return callArg{Kind: 's', Text: text}, nil
		}
		v, err := parseInt(s)
		if err != nil {
			return callArg{}, fmt.Errorf("%w (want an address, or s:TEXT for a pointer to a copy of TEXT)", err)
		}
		return callArg{Kind: 'i', Int: v}, nil
	case k == callconv.KindBool:
		switch s {
		case "0", "false":
			return callArg{Kind: 'i'}, nil
		case "1", "true":
			return callArg{Kind: 'i', Int: 1}, nil
		}
		return callArg{}, fmt.Errorf("%q is not a %s (want 0, 1, false or true)", s, p.Spelling)
	case k == callconv.KindInt8 || k == callconv.KindInt16 || k == callconv.KindInt32 || k == callconv.KindInt64 ||
		k == callconv.KindUint8 || k == callconv.KindUint16 || k == callconv.KindUint32 || k == callconv.KindUint64:
		if strings.HasPrefix(s, "d:") || strings.HasPrefix(s, "f:") || strings.HasPrefix(s, "s:") {
			return callArg{}, fmt.Errorf("%q for an integer parameter", s)
		}
		v, err := parseInt(s)
		if err != nil {
			return callArg{}, err
		}
		if err := fitsInteger(v, strings.HasPrefix(s, "-"), t, p.Spelling); err != nil {
			return callArg{}, fmt.Errorf("%s %w", s, err)
		}
		return callArg{Kind: 'i', Int: v}, nil
	}
	return callArg{}, fmt.Errorf("call cannot pass a %s", p.Spelling)
}

// fitsInteger checks that v (two's complement when neg) is in the range
// of integer type t, spelled name in the declaration.
func fitsInteger(v uint64, neg bool, t *abi.Type, name string) error {
	bits := 8 * t.Size()
	if callconv.KindOf(t).IsSigned() {
		lo, hi := int64(-1)<<(bits-1), int64(uint64(1)<<(bits-1)-1)
		if (neg && int64(v) < lo) || (!neg && v > uint64(hi)) {
			return fmt.Errorf("does not fit %s (%d to %d)", name, lo, hi)
		}
		return nil
	}
	hi := uint64(math.MaxUint64)
	if bits < 64 {
		hi = 1<<bits - 1
	}
	if neg || v > hi {
		return fmt.Errorf("does not fit %s (0 to %d)", name, hi)
	}
	return nil
}

// untypedArgType is the C type an ARG without a declaration is passed as.
func untypedArgType(a callArg) *abi.Type {
	switch a.Kind {
	case 'd':
		return abi.Float64
	case 'f':
		return abi.Float32
	case 's':
		return abi.Pointer
	}
	return abi.Int64
}

// sigRetKind is the --ret kind that prints fd's result.
func sigRetKind(fd *abi.FuncDecl, isolated bool) (string, error) {
	switch k := callconv.KindOf(fd.Result); {
	case k == callconv.KindVoid:
		return "void", nil
	case k == callconv.KindFloat64:
		return "double", nil
	case k == callconv.KindFloat32:
		return "float", nil
	case k == callconv.KindPointer && fd.CStringResult && !isolated:
		return "str", nil
	case k == callconv.KindPointer:
		return "hex", nil
	case k.IsSigned():
		return "int", nil
	case k.IsInteger() && k != callconv.KindUint128:
		return "uint", nil
	}
	return "", fmt.Errorf("call cannot print a %v result", fd.Result)
}

// narrow keeps the low bytes of rax that a result of type t fills, sign-
// or zero-extended: an int result leaves the upper half of rax undefined.
func narrow(ri uint64, t *abi.Type) uint64 {
	if t == nil || !callconv.KindOf(t).IsInteger() || t.Size() >= 8 {
		return ri
	}
	bits := 8 * t.Size()
	if callconv.KindOf(t) == callconv.KindBool {
		return ri & 0xff
	}
	if callconv.KindOf(t).IsSigned() {
		return uint64(int64(ri<<(64-bits)) >> (64 - bits))
	}
	return ri & (1<<bits - 1)
}

// floatRetWarning is the warning for a call without --sig whose result
// is read from xmm0 while none of its arguments went in a vector
// register: the usual mistake is `--ret double libm.so.6 cos 2`, whose 2
// went to rdi while cos read xmm0.
func floatRetWarning(ret string, ca *callArgs) string {
	if ret != "double" && ret != "float" || len(ca.Args) == 0 {
		return ""
	}
	for _, a := range ca.Args {
		if a.Kind == 'd' || a.Kind == 'f' {
			return ""
		}
	}
	return fmt.Sprintf("warning: --ret %s but no argument is d:REAL or f:REAL: integers go in integer registers, so a function taking a double never sees them; give d:2 or the declaration (--sig 'double(double)')", ret)
}

// retFits reports whether --ret kind reads a result that the declaration
// prints as declared: the integer kinds read any integer or pointer, str
// reads a char pointer, the others only themselves.
func retFits(kind, declared string) bool {
	integer := func(k string) bool { return k == "int" || k == "uint" || k == "hex" }
	switch {
	case kind == declared:
		return true
	case integer(kind):
		return integer(declared) || declared == "str"
	}
	return false
}
