package callconv

import (
	"fmt"
	"reflect"
)

// Int128Value and Uint128Value are the Go types TypeOf maps to __int128
// and unsigned __int128: two's complement, low half first, as the value
// lies in memory on a little-endian machine.
type (
	Int128Value struct {
		Lo uint64
		Hi int64
	}
	Uint128Value struct {
		Lo, Hi uint64
	}
)

// LongDoubleValue is the Go type TypeOf maps to long double: its 16
// bytes as they lie in memory, low half first (x87 extended and padding
// on amd64, IEEE binary128 on arm64).
type LongDoubleValue struct {
	Lo, Hi uint64
}

// TypeError reports a Go type that has no C counterpart, or whose Go
// layout differs from the C layout of its counterpart. Field names the
// member at fault as a path from the outer type ("Inner.Name", "[2]"), or
// is empty when the type itself is at fault.
type TypeError struct {
	GoType reflect.Type // the outer Go type
	Field  string
	Reason string
}

// Error describes the type, the member and the reason.
func (e *TypeError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("abi: Go type %v: field %s: %s", e.GoType, e.Field, e.Reason)
	}
	return fmt.Sprintf("abi: Go type %v: %s", e.GoType, e.Reason)
}

var (
	int128Type     = reflect.TypeFor[Int128Value]()
	uint128Type    = reflect.TypeFor[Uint128Value]()
	longDoubleType = reflect.TypeFor[LongDoubleValue]()
)

// TypeOf returns the C type of a Go type: bool is _Bool; intN, uintN,
// int and uint the integers of their size; uintptr and unsafe.Pointer a
// pointer; float32 and float64 float and double; Int128Value and
// Uint128Value the 128-bit integers; LongDoubleValue long double; arrays
// and structs of those are C arrays and structs. A Go struct's layout must be its C layout: the same
// size, alignment and member offsets (Go and C agree on amd64 except where
// a member needs more alignment in C, as __int128's 16 does).
//
// Types that are Go memory the garbage collector must see (string, slice,
// map, interface, func, chan, and Go pointers *T) have no C counterpart
// and are refused with a *TypeError naming the field.
func TypeOf(t reflect.Type) (*Type, error) {
	if t == nil {
		return nil, &TypeError{Reason: "nil type (an interface value?)"}
	}
	return typeOf(t, t, "")
}

func typeOf(outer, t reflect.Type, path string) (*Type, error) {
	bad := func(reason string) error { return &TypeError{GoType: outer, Field: path, Reason: reason} }
	switch t {
	case int128Type:
		return Int128, nil
	case uint128Type:
		return Uint128, nil
	case longDoubleType:
		return LongDouble, nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return Bool, nil
	case reflect.Int8:
		return Int8, nil
	case reflect.Int16:
		return Int16, nil
	case reflect.Int32:
		return Int32, nil
	case reflect.Int64, reflect.Int:
		return Int64, nil
	case reflect.Uint8:
		return Uint8, nil
	case reflect.Uint16:
		return Uint16, nil
	case reflect.Uint32:
		return Uint32, nil
	case reflect.Uint64, reflect.Uint:
		return Uint64, nil
	case reflect.Uintptr, reflect.UnsafePointer:
		return Pointer, nil
	case reflect.Float32:
		return Float32, nil
	case reflect.Float64:
		return Float64, nil
	case reflect.Array:
		e, err := typeOf(outer, t.Elem(), path+"[0]")
		if err != nil {
			return nil, err
		}
		return ArrayOf(e, uint64(t.Len()))
	case reflect.Struct:
		fs := make([]Field, t.NumField())
		for i := range fs {
			sf := t.Field(i)
			name := sf.Name
			if path != "" {
				name = path + "." + sf.Name
			}
			ft, err := typeOf(outer, sf.Type, name)
			if err != nil {
				return nil, err
			}
			fs[i] = Field{Name: sf.Name, Type: ft, Offset: uint64(sf.Offset)}
		}
		types := make([]*Type, len(fs))
		for i, f := range fs {
			types[i] = f.Type
		}
		if len(fs) == 0 {
			return nil, bad("an empty struct has no C counterpart (size 0)")
		}
		c, err := StructOf(types...)
		if err != nil {
			return nil, bad(err.Error())
		}
		for i, f := range c.fields {
			if f.Offset != fs[i].Offset {
				return nil, &TypeError{GoType: outer, Field: joinPath(path, fs[i].Name),
					Reason: fmt.Sprintf("at Go offset %d, C offset %d (add explicit padding, or reorder)", fs[i].Offset, f.Offset)}
			}
			c.fields[i].Name = fs[i].Name
		}
		if c.size != uint64(t.Size()) {
			return nil, bad(fmt.Sprintf("Go size %d, C size %d (a trailing zero-size field adds Go padding)", t.Size(), c.size))
		}
		if c.align != uint64(t.Align()) && t != outer {
			// A nested struct's alignment decides where it sits; the
			// offsets above were compared, so this is the C side needing
			// more (16 for __int128), already reported by an offset
			// unless the struct is the last of its container.
			return nil, bad(fmt.Sprintf("Go alignment %d, C alignment %d", t.Align(), c.align))
		}
		c.name = t.String()
		return c, nil
	case reflect.String:
		return nil, bad("a Go string has no C layout (pass a pointer to a NUL-terminated copy)")
	case reflect.Slice:
		return nil, bad("a Go slice has no C layout (pass a pointer to its first element)")
	case reflect.Map, reflect.Interface, reflect.Func, reflect.Chan:
		return nil, bad(fmt.Sprintf("a Go %v has no C layout", t.Kind()))
	case reflect.Pointer:
		return nil, bad(fmt.Sprintf("Go pointer type %v: C memory may not hold Go pointers (use unsafe.Pointer or uintptr for native memory)", t))
	}
	return nil, bad(fmt.Sprintf("Go kind %v has no C counterpart", t.Kind()))
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// SameLayout reports whether a and b have the same size, alignment and
// member offsets all the way down, with scalars of the same size and
// register class in the same places (int64_t and a pointer match; member
// names do not matter): a value of type a may then be passed where b is
// declared.
func SameLayout(a, b *Type) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil || a.size != b.size || a.align != b.align {
		return false
	}
	if !IsAggregate(a) || !IsAggregate(b) {
		return !IsAggregate(a) && !IsAggregate(b) && scalarClass(a.kind) == scalarClass(b.kind)
	}
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case KindStruct, KindUnion:
		if len(a.fields) != len(b.fields) {
			return false
		}
		for i := range a.fields {
			if a.fields[i].Offset != b.fields[i].Offset || !SameLayout(a.fields[i].Type, b.fields[i].Type) {
				return false
			}
		}
	case KindArray:
		return a.n == b.n && SameLayout(a.elem, b.elem)
	}
	return true
}

// scalarClass groups scalar kinds that are passed alike.
func scalarClass(k Kind) int {
	switch {
	case k.IsFloat():
		return 1
	case k == KindLongDouble:
		return 2
	}
	return 0
}
