package abi

import (
	"github.com/runplug/runplug/internal/callconv"

	"errors"
	"strings"
	"testing"
)

func TestParseFunc(t *testing.T) {
	for _, tt := range []struct {
		decl     string
		name     string
		ret      *Type
		params   []*Type
		cstrings []bool
		variadic bool
	}{
		{"double(double)", "", Float64, []*Type{Float64}, []bool{false}, false},
		{"double cos(double x)", "cos", Float64, []*Type{Float64}, []bool{false}, false},
		{"int(const char *, ...)", "", Int32, []*Type{Pointer}, []bool{true}, true},
		{"int printf(const char *restrict fmt, ...)", "printf", Int32, []*Type{Pointer}, []bool{true}, true},
		{"unsigned long strlen(const char *s)", "strlen", Uint64, []*Type{Pointer}, []bool{true}, false},
		{"void(void)", "", Void, nil, nil, false},
		{"void f()", "f", Void, nil, nil, false},
		{"char *strdup(const char *)", "strdup", Pointer, []*Type{Pointer}, []bool{true}, false},
		{"long long (unsigned short, signed char, unsigned, long double)", "", Int64, []*Type{Uint16, Int8, Uint32, LongDouble}, []bool{false, false, false, false}, false},
		{"size_t(struct foo *, char **, enum color, _Bool, uint8_t, int64_t)", "", Uint64, []*Type{Pointer, Pointer, Int32, Bool, Uint8, Int64}, []bool{false, false, false, false, false, false}, false},
		{"float(float, int const, volatile unsigned long int)", "", Float32, []*Type{Float32, Int32, Uint64}, []bool{false, false, false}, false},
	} {
		fd, err := ParseFunc(tt.decl)
		if err != nil {
			t.Errorf("%q: %v", tt.decl, err)
			continue
		}
		if fd.Name != tt.name || fd.Result != tt.ret || fd.Variadic != tt.variadic || len(fd.Params) != len(tt.params) {
			t.Errorf("%q: got name %q result %v variadic %v %d params", tt.decl, fd.Name, fd.Result, fd.Variadic, len(fd.Params))
			continue
		}
		for i, p := range fd.Params {
			if p.Type != tt.params[i] || p.CString != tt.cstrings[i] {
				t.Errorf("%q: param %d: %v cstring %v, want %v %v", tt.decl, i+1, p.Type, p.CString, tt.params[i], tt.cstrings[i])
			}
		}
	}
}

func TestParseFuncRefuses(t *testing.T) {
	for _, tt := range []struct{ decl, want string }{
		{"", "column 1: want a type"},
		{"double", "want \"(\""},
		{"double(", "want a type"},
		{"double(double", "want \",\" or \")\" after parameter 1"},
		{"double(double) x", "unexpected \"x\""},
		{"int(...)", "needs a named parameter"},
		{"int(int, ..., int)", "must be the last"},
		{"int(struct point)", "struct point by value"},
		{"int(void, int)", "a parameter of type void"},
		{"foo(int)", "unknown type \"foo\""},
		{"int(signed unsigned)", "signed and unsigned together"},
		{"int(short long)", "not a C type"},
		{"int(int[3])", "unexpected '['"},
		{"int(ino_t)", "unknown type \"ino_t\""},
	} {
		_, err := ParseFunc(tt.decl)
		var de *DeclError
		if !errors.As(err, &de) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want a *DeclError containing %q", tt.decl, err, tt.want)
		}
	}
}

// FuzzParseFunc: any text gives a declaration or a *DeclError, never a
// panic; a declaration's types can be planned under SysV, and under the
// AAPCS64 but for a long double in a q register (refused).
func FuzzParseFunc(f *testing.F) {
	for _, s := range []string{"double(double)", "int printf(const char *, ...)", "void(void)", "unsigned long long(struct x **, enum e)", "int((", "long double(float)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fd, err := ParseFunc(s)
		if err != nil {
			var de *DeclError
			if !errors.As(err, &de) || fd != nil {
				t.Fatalf("%q: %v, %v", s, fd, err)
			}
			return
		}
		args := make([]*Type, len(fd.Params))
		for i, p := range fd.Params {
			args[i] = p.Type
		}
		if _, err := callconv.SysV.NewPlan(fd.Result, args...); err != nil {
			t.Fatalf("%q: plan: %v", s, err)
		}
		if _, err := callconv.AAPCS64.NewPlan(fd.Result, args...); err != nil {
			t.Fatalf("%q: AAPCS64 plan: %v", s, err)
		}
	})
}
