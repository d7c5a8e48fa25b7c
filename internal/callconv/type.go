package callconv

import (
	"fmt"
	"strings"
)

// Kind is the kind of a C type.
type Kind uint8

// The kinds of C types.
const (
	KindVoid Kind = iota
	KindBool
	KindInt8
	KindInt16
	KindInt32
	KindInt64
	KindUint8
	KindUint16
	KindUint32
	KindUint64
	KindPointer
	KindFloat32
	KindFloat64
	KindLongDouble // x87 80-bit extended, 16 bytes in memory
	KindInt128
	KindUint128
	KindStruct
	KindUnion
	KindArray
)

var kindNames = [...]string{
	KindVoid: "void", KindBool: "_Bool",
	KindInt8: "int8_t", KindInt16: "int16_t", KindInt32: "int32_t", KindInt64: "int64_t",
	KindUint8: "uint8_t", KindUint16: "uint16_t", KindUint32: "uint32_t", KindUint64: "uint64_t",
	KindPointer: "void *", KindFloat32: "float", KindFloat64: "double",
	KindLongDouble: "long double", KindInt128: "__int128", KindUint128: "unsigned __int128",
	KindStruct: "struct", KindUnion: "union", KindArray: "array",
}

// String returns the C spelling of k ("int32_t", "double", "struct").
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// IsInteger reports whether k is a scalar of class INTEGER (integers,
// _Bool and pointers; __int128 is two of them).
func (k Kind) IsInteger() bool {
	return k >= KindBool && k <= KindPointer || k == KindInt128 || k == KindUint128
}

// IsFloat reports whether k is float or double (class SSE).
func (k Kind) IsFloat() bool { return k == KindFloat32 || k == KindFloat64 }

// IsSigned reports whether k is a signed integer kind.
func (k Kind) IsSigned() bool { return k >= KindInt8 && k <= KindInt64 || k == KindInt128 }

// Type is a C type: its kind, size and alignment, and for aggregates their
// members. Types are immutable once made; the predefined scalars and the
// results of StructOf, UnionOf and ArrayOf may be shared freely.
type Type struct {
	kind   Kind
	size   uint64
	align  uint64
	fields []Field // struct and union members, in order
	elem   *Type   // array element
	n      uint64  // array length
	name   string
}

// Field is one member of a struct or union: its type and its byte offset
// from the start of the aggregate.
type Field struct {
	Name   string // for messages; may be empty
	Type   *Type
	Offset uint64
}

func scalar(k Kind, size uint64) *Type { return &Type{kind: k, size: size, align: size} }

// The scalar C types of the psABI's Figure 3.1 that runplug can pass.
var (
	Void       = &Type{kind: KindVoid, align: 1}
	Bool       = scalar(KindBool, 1)
	Int8       = scalar(KindInt8, 1)
	Int16      = scalar(KindInt16, 2)
	Int32      = scalar(KindInt32, 4)
	Int64      = scalar(KindInt64, 8)
	Uint8      = scalar(KindUint8, 1)
	Uint16     = scalar(KindUint16, 2)
	Uint32     = scalar(KindUint32, 4)
	Uint64     = scalar(KindUint64, 8)
	Pointer    = scalar(KindPointer, 8)
	Float32    = scalar(KindFloat32, 4)
	Float64    = scalar(KindFloat64, 8)
	LongDouble = scalar(KindLongDouble, 16)
	Int128     = scalar(KindInt128, 16)
	Uint128    = scalar(KindUint128, 16)
)

// KindOf returns t's kind. The engine reads a Type through these
// functions rather than methods, so that abi.Type, an alias of Type,
// shows a host only Size, Align and String.
func KindOf(t *Type) Kind { return t.kind }

// Size returns t's size in bytes (sizeof).
func (t *Type) Size() uint64 { return t.size }

// Align returns t's alignment in bytes (_Alignof).
func (t *Type) Align() uint64 { return t.align }

// FieldsOf returns a struct's or union's members (nil for other kinds).
func FieldsOf(t *Type) []Field { return append([]Field(nil), t.fields...) }

// ElemOf returns an array's element type (nil for other kinds).
func ElemOf(t *Type) *Type { return t.elem }

// LenOf returns an array's length.
func LenOf(t *Type) uint64 { return t.n }

// IsAggregate reports whether t is a struct, union or array.
func IsAggregate(t *Type) bool {
	return t.kind == KindStruct || t.kind == KindUnion || t.kind == KindArray
}

// String returns a C-like description, e.g. "struct { int32_t; double }".
func (t *Type) String() string {
	if t == nil {
		return "<nil>"
	}
	if t.name != "" {
		return t.name
	}
	switch t.kind {
	case KindStruct, KindUnion:
		var b strings.Builder
		b.WriteString(t.kind.String())
		b.WriteString(" {")
		for i, f := range t.fields {
			if i > 0 {
				b.WriteString(";")
			}
			b.WriteString(" ")
			b.WriteString(f.Type.String())
		}
		b.WriteString(" }")
		return b.String()
	case KindArray:
		return fmt.Sprintf("%v[%d]", t.elem, t.n)
	}
	return t.kind.String()
}

// Named returns a copy of t that String calls name (for messages).
func Named(t *Type, name string) *Type {
	c := *t
	c.name = name
	return &c
}

// maxSize bounds the size of a type built at run time: far beyond any
// argument, and small enough that no offset arithmetic overflows.
const maxSize = 1 << 32

func alignUp(v, a uint64) uint64 { return (v + a - 1) &^ (a - 1) }

// StructOf returns the C struct with the given member types laid out as a
// C compiler lays them out: each at the next offset aligned to its
// alignment, the size rounded up to the largest alignment.
func StructOf(members ...*Type) (*Type, error) {
	fs := make([]Field, len(members))
	off := uint64(0)
	for i, m := range members {
		if err := checkMember(m, i); err != nil {
			return nil, err
		}
		off = alignUp(off, m.align)
		fs[i] = Field{Name: fmt.Sprintf("f%d", i), Type: m, Offset: off}
		off += m.size
		if off > maxSize {
			return nil, fmt.Errorf("abi: struct of %d members: larger than %d bytes", len(members), uint64(maxSize))
		}
	}
	return StructOfFields(fs...)
}

// StructOfFields returns a struct with members at explicit offsets, as a
// packed or otherwise attributed C struct has them. Members must be in
// increasing, non-overlapping order. The alignment is the largest member
// alignment, or 1 when some member is not aligned at its offset (a packed
// struct); such a struct has class MEMORY.
func StructOfFields(fields ...Field) (*Type, error) {
	t := &Type{kind: KindStruct, align: 1, fields: append([]Field(nil), fields...)}
	end := uint64(0)
	packed := false
	for i, f := range fields {
		if err := checkMember(f.Type, i); err != nil {
			return nil, err
		}
		if f.Offset < end {
			return nil, fmt.Errorf("abi: struct member %d (%s) at offset %d overlaps the member before it (which ends at %d)", i, f.Type, f.Offset, end)
		}
		if f.Offset > maxSize {
			return nil, fmt.Errorf("abi: struct member %d at offset %d: beyond %d bytes", i, f.Offset, uint64(maxSize))
		}
		end = f.Offset + f.Type.size
		if f.Offset%f.Type.align != 0 {
			packed = true
		}
		t.align = max(t.align, f.Type.align)
	}
	if packed {
		t.align = 1
	}
	t.size = alignUp(end, t.align)
	return t, nil
}

// UnionOf returns the C union of the given member types: all at offset 0,
// the size the largest member's rounded up to the largest alignment.
func UnionOf(members ...*Type) (*Type, error) {
	t := &Type{kind: KindUnion, align: 1}
	for i, m := range members {
		if err := checkMember(m, i); err != nil {
			return nil, err
		}
		t.fields = append(t.fields, Field{Name: fmt.Sprintf("f%d", i), Type: m})
		t.size = max(t.size, m.size)
		t.align = max(t.align, m.align)
	}
	t.size = alignUp(t.size, t.align)
	return t, nil
}

// ArrayOf returns the C array elem[n].
func ArrayOf(elem *Type, n uint64) (*Type, error) {
	if err := checkMember(elem, 0); err != nil {
		return nil, err
	}
	if elem.size != 0 && n > maxSize/elem.size {
		return nil, fmt.Errorf("abi: array %s[%d]: larger than %d bytes", elem, n, uint64(maxSize))
	}
	return &Type{kind: KindArray, size: elem.size * n, align: elem.align, elem: elem, n: n}, nil
}

func checkMember(m *Type, i int) error {
	if m == nil {
		return fmt.Errorf("abi: member %d: nil type", i)
	}
	if m.kind == KindVoid {
		return fmt.Errorf("abi: member %d: void is not a member type", i)
	}
	return nil
}

// MustStructOf is StructOf for member lists known to be valid (it panics
// on an error): package-level type variables and tests.
func MustStructOf(members ...*Type) *Type {
	t, err := StructOf(members...)
	if err != nil {
		panic(err)
	}
	return t
}
