package callconv

// Class is a psABI register class of one eightbyte (psABI 3.2.3).
type Class uint8

// The psABI classes (Figure 3.1's "Register Usage" and 3.2.3).
const (
	NoClass Class = iota
	Integer
	SSE
	SSEUp
	X87
	X87Up
	ComplexX87
	Memory
)

var classNames = [...]string{"NO_CLASS", "INTEGER", "SSE", "SSEUP", "X87", "X87UP", "COMPLEX_X87", "MEMORY"}

// String returns the psABI's name of c ("INTEGER", "SSE", ...).
func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "Class(?)"
}

// merge is the psABI's merge of two classes of one eightbyte.
func merge(a, b Class) Class {
	switch {
	case a == b:
		return a
	case a == NoClass:
		return b
	case b == NoClass:
		return a
	case a == Memory || b == Memory:
		return Memory
	case a == Integer || b == Integer:
		return Integer
	case a == X87 || a == X87Up || a == ComplexX87 || b == X87 || b == X87Up || b == ComplexX87:
		return Memory
	}
	return SSE
}

// Classification is the class of each eightbyte of a value, after the
// psABI's post-merger cleanup. A value of class MEMORY has InMemory set
// and no eightbyte classes; a value of size 0 has neither.
type Classification struct {
	InMemory bool
	Classes  []Class // one per eightbyte: INTEGER, SSE, or X87/X87UP
}

// Classify classifies a value of type t (an argument or a result; the
// difference, X87 arguments in memory, is Plan's).
func Classify(t *Type) Classification {
	if t.kind == KindVoid || t.size == 0 {
		return Classification{}
	}
	// Larger than eight eightbytes (there are no vector types here, so
	// in effect larger than two: see the post-merger rule below).
	if t.size > 64 {
		return Classification{InMemory: true}
	}
	n := (t.size + 7) / 8
	cls := make([]Class, n)
	if !classifyInto(t, 0, cls) {
		return Classification{InMemory: true}
	}
	// Post-merger cleanup.
	for i, c := range cls {
		if c == Memory {
			return Classification{InMemory: true}
		}
		if c == X87Up && (i == 0 || cls[i-1] != X87) {
			return Classification{InMemory: true}
		}
		if c == SSEUp && (i == 0 || cls[i-1] != SSE && cls[i-1] != SSEUp) {
			cls[i] = SSE
		}
	}
	if n > 2 {
		if cls[0] != SSE {
			return Classification{InMemory: true}
		}
		for _, c := range cls[1:] {
			if c != SSEUp {
				return Classification{InMemory: true}
			}
		}
	}
	// An eightbyte that is all padding stays NO_CLASS and takes no
	// register (gcc's examine_argument and construct_container skip it).
	return Classification{Classes: cls}
}

// classifyInto merges the classes of a value of type t at byte offset off
// into cls. It reports false when t has an unaligned member (class
// MEMORY).
func classifyInto(t *Type, off uint64, cls []Class) bool {
	if off%t.align != 0 {
		return false
	}
	switch t.kind {
	case KindStruct, KindUnion:
		for _, f := range t.fields {
			if !classifyInto(f.Type, off+f.Offset, cls) {
				return false
			}
		}
		return true
	case KindArray:
		for i := uint64(0); i < t.n; i++ {
			if !classifyInto(t.elem, off+i*t.elem.size, cls) {
				return false
			}
		}
		return true
	case KindLongDouble:
		cls[off/8] = merge(cls[off/8], X87)
		cls[off/8+1] = merge(cls[off/8+1], X87Up)
		return true
	case KindInt128, KindUint128:
		cls[off/8] = merge(cls[off/8], Integer)
		cls[off/8+1] = merge(cls[off/8+1], Integer)
		return true
	}
	c := Integer
	if t.kind.IsFloat() {
		c = SSE
	}
	cls[off/8] = merge(cls[off/8], c)
	return true
}
