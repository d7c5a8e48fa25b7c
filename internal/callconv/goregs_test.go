package callconv

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// regsString renders an assignment as "rax:0/1s rbx:8/8 | x0:0/4" per
// value: register, offset/size, s for signed.
func regsString(r GoRegs) string {
	var vals []string
	for _, v := range r.Values {
		var parts []string
		for _, s := range v {
			var name string
			if s.Float {
				name = GoFloatRegNames[s.Reg]
			} else {
				name = GoIntRegNames[s.Reg]
			}
			p := fmt.Sprintf("%s:%d/%d", name, s.Off, s.Size)
			if s.Signed {
				p += "s"
			}
			parts = append(parts, p)
		}
		vals = append(vals, strings.Join(parts, " "))
	}
	return strings.Join(vals, " | ")
}

// TestAssignGoRegs checks the model of ABIInternal's register assignment
// on amd64 (src/cmd/compile/abi-internal.md) value by value: scalars,
// structs field by field, one-element arrays, the multi-word kinds, and
// the register limits exactly reached and passed.
func TestAssignGoRegs(t *testing.T) {
	type narrow struct {
		A int8
		B int16
		C int32
		D int64
	}
	type mix struct {
		B bool
		F float64
		U uint16
	}
	type nest struct {
		In struct {
			P unsafe.Pointer
			N uint32
		}
		Arr [1]float32
	}
	type ff struct{ X, Y float32 }
	type arr2 struct{ A [2]int64 }
	type empty struct{}
	tests := []struct {
		name string
		ts   []reflect.Type
		want string // "" when the values do not all go in registers
		ints int
		flts int
	}{
		{"no values", nil, "", 0, 0},
		{"ints in order", types(int64(0), uint32(0), int8(0)), "rax:0/8s | rbx:0/4 | rcx:0/1s", 3, 0},
		{"floats apart from ints", types(1.0, int64(0), float32(0), uintptr(0)), "x0:0/8 | rax:0/8s | x1:0/4 | rbx:0/8", 2, 2},
		{"bool and pointers", types(true, unsafe.Pointer(nil), (*int)(nil)), "rax:0/1 | rbx:0/8 | rcx:0/8", 3, 0},
		{"string: data, length", types("", 1.0, ""), "rax:0/8 rbx:8/8 | x0:0/8 | rcx:0/8 rdi:8/8", 4, 1},
		{"slice and interface", []reflect.Type{reflect.TypeFor[[]byte](), reflect.TypeFor[error]()}, "rax:0/8 rbx:8/8 rcx:16/8 | rdi:0/8 rsi:8/8", 5, 0},
		{"complex", types(complex64(0), complex(1, 2)), "x0:0/4 x1:4/4 | x2:0/8 x3:8/8", 0, 4},
		{"struct field by field", types(narrow{}, mix{}), "rax:0/1s rbx:2/2s rcx:4/4s rdi:8/8s | rsi:0/1 x0:8/8 r8:16/2", 6, 1},
		{"nested struct, one-element array", types(nest{}, ff{}), "rax:0/8 rbx:8/4 x0:16/4 | x1:0/4 x2:4/4", 2, 3},
		{"zero-size values take no register", types(empty{}, [0]int64{}, int64(0)), " |  | rax:0/8s", 1, 0},
		{"nine integer registers", types(narrow{}, narrow{}, int8(0)), "rax:0/1s rbx:2/2s rcx:4/4s rdi:8/8s | rsi:0/1s r8:2/2s r9:4/4s r10:8/8s | r11:0/1s", 9, 0},
		{"ten integer registers", types(narrow{}, narrow{}, "", int8(0)), "", 0, 0},
		{"fifteen float registers", types(ff{}, ff{}, ff{}, ff{}, ff{}, ff{}, ff{}, 1.0), "x0:0/4 x1:4/4 | x2:0/4 x3:4/4 | x4:0/4 x5:4/4 | x6:0/4 x7:4/4 | x8:0/4 x9:4/4 | x10:0/4 x11:4/4 | x12:0/4 x13:4/4 | x14:0/8", 0, 15},
		{"sixteen float registers", types(ff{}, ff{}, ff{}, ff{}, ff{}, ff{}, ff{}, ff{}), "", 0, 0},
		{"an array of two goes to memory", types(arr2{}), "", 0, 0},
		{"five strings", types("", "", "", "", ""), "", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := AssignGoRegs(tt.ts)
			if tt.want == "" && len(tt.ts) > 0 {
				if ok {
					t.Fatalf("AssignGoRegs = %s, want values in memory", regsString(r))
				}
				return
			}
			if !ok {
				t.Fatal("AssignGoRegs refused values that fit the registers")
			}
			if got := regsString(r); got != tt.want || r.Ints != tt.ints || r.Floats != tt.flts {
				t.Errorf("AssignGoRegs = %q (%d int, %d float), want %q (%d, %d)", got, r.Ints, r.Floats, tt.want, tt.ints, tt.flts)
			}
		})
	}
}

func types(vs ...any) []reflect.Type {
	ts := make([]reflect.Type, len(vs))
	for i, v := range vs {
		ts[i] = reflect.TypeOf(v)
	}
	return ts
}
