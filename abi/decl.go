package abi

import (
	"github.com/runplug/runplug/internal/callconv"

	"fmt"
	"slices"
	"strings"
)

// FuncDecl is a C function type read from declaration syntax by ParseFunc:
// "double(double)", "int printf(const char *fmt, ...)".
type FuncDecl struct {
	Name     string  // the function's name, if the declaration gave one
	Result   *Type   // Void for a function returning nothing
	Params   []Param // the declared parameters, in order
	Variadic bool    // the parameter list ends in "..."
	// CStringResult is true when the result is a pointer to char.
	CStringResult bool
	// ResultSpelling is the result type as written, normalised.
	ResultSpelling string
}

// Param is one declared parameter of a FuncDecl.
type Param struct {
	Type *Type
	Name string // as declared, or ""
	// CString is true for a pointer to char (const or not, signed or
	// not): the C convention for a NUL-terminated string.
	CString bool
	// Spelling is the type as written, normalised ("const char *",
	// "unsigned long"), for messages.
	Spelling string
}

// DeclError is the error of ParseFunc: the declaration, the column (from
// 1) where it stopped making sense, and why.
type DeclError struct {
	Decl   string
	Column int
	Msg    string
}

// Error formats the error as
//
//	abi: C declaration "double(": column 8: want a type
func (e *DeclError) Error() string {
	return fmt.Sprintf("abi: C declaration %q: column %d: %s", e.Decl, e.Column, e.Msg)
}

// maxDeclLen bounds the text ParseFunc reads: a declaration longer than
// this is a mistake, not a signature.
const maxDeclLen = 4096

// ParseFunc parses a C function declaration of scalar and pointer types:
//
//	double(double)
//	double cos(double x)
//	int(const char *, ...)
//	unsigned long strlen(const char *s)
//	void(void)
//
// The types are C's arithmetic types in any of their spellings ("unsigned
// long long", "signed char", "_Bool"), the <stdint.h> and <stddef.h>
// names (int32_t, uint8_t, size_t, ssize_t, intptr_t, ptrdiff_t, ...),
// enums (as int) and pointers to anything (struct and union types only
// behind a pointer: their layout is not in the text). Qualifiers (const,
// volatile, restrict) are accepted and ignored. An empty parameter list
// means no parameters, as in C23. Anything else is a *DeclError naming
// the column.
func ParseFunc(decl string) (*FuncDecl, error) {
	if len(decl) > maxDeclLen {
		return nil, &DeclError{Decl: decl[:64] + "...", Column: maxDeclLen, Msg: fmt.Sprintf("longer than %d bytes", maxDeclLen)}
	}
	p := &declParser{src: decl}
	if err := p.lex(); err != nil {
		return nil, err
	}
	fd, err := p.function()
	if err != nil {
		return nil, err
	}
	return fd, nil
}

// declToken is one token of a declaration: an identifier, or one of
// "*", "(", ")", ",", "...".
type declToken struct {
	text string
	col  int // from 1
}

type declParser struct {
	src  string
	toks []declToken
	pos  int
}

func (p *declParser) errorf(col int, format string, args ...any) error {
	return &DeclError{Decl: p.src, Column: col, Msg: fmt.Sprintf(format, args...)}
}

func (p *declParser) lex() error {
	s := p.src
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '*' || c == '(' || c == ')' || c == ',':
			p.toks = append(p.toks, declToken{string(c), i + 1})
			i++
		case strings.HasPrefix(s[i:], "..."):
			p.toks = append(p.toks, declToken{"...", i + 1})
			i += 3
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			p.toks = append(p.toks, declToken{s[i:j], i + 1})
			i = j
		default:
			return p.errorf(i+1, "unexpected %q", c)
		}
	}
	return nil
}

// peek returns the next token's text, or "" at the end.
func (p *declParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos].text
	}
	return ""
}

// col returns the column of the next token (one past the end at the end).
func (p *declParser) col() int {
	if p.pos < len(p.toks) {
		return p.toks[p.pos].col
	}
	return len(p.src) + 1
}

// function parses: type [name] "(" params ")".
func (p *declParser) function() (*FuncDecl, error) {
	rt, err := p.typ()
	if err != nil {
		return nil, err
	}
	fd := &FuncDecl{Result: rt.t, ResultSpelling: rt.spelling, CStringResult: rt.cstring}
	if isIdent(p.peek()) {
		fd.Name = p.peek()
		p.pos++
	}
	if p.peek() != "(" {
		return nil, p.errorf(p.col(), "want \"(\" and the parameter list after the result type")
	}
	p.pos++
	switch {
	case p.peek() == ")":
		p.pos++
	case p.peek() == "void" && p.pos+1 < len(p.toks) && p.toks[p.pos+1].text == ")":
		p.pos += 2
	default:
		for {
			if p.peek() == "..." {
				if len(fd.Params) == 0 {
					return nil, p.errorf(p.col(), "\"...\" needs a named parameter before it")
				}
				p.pos++
				fd.Variadic = true
				if p.peek() != ")" {
					return nil, p.errorf(p.col(), "\"...\" must be the last parameter")
				}
				p.pos++
				break
			}
			col := p.col()
			pt, err := p.typ()
			if err != nil {
				return nil, err
			}
			if callconv.KindOf(pt.t) == callconv.KindVoid {
				return nil, p.errorf(col, "a parameter of type void (write \"void\" alone for no parameters)")
			}
			prm := Param{Type: pt.t, CString: pt.cstring, Spelling: pt.spelling}
			if isIdent(p.peek()) {
				prm.Name = p.peek()
				p.pos++
			}
			fd.Params = append(fd.Params, prm)
			if p.peek() == "," {
				p.pos++
				continue
			}
			if p.peek() != ")" {
				return nil, p.errorf(p.col(), "want \",\" or \")\" after parameter %d", len(fd.Params))
			}
			p.pos++
			break
		}
	}
	if p.pos != len(p.toks) {
		return nil, p.errorf(p.col(), "unexpected %q after the parameter list", p.peek())
	}
	return fd, nil
}

// parsedType is a type read by typ.
type parsedType struct {
	t        *Type
	cstring  bool
	spelling string
}

// The keyword tables are switches rather than maps, so that nothing is
// built at init in a process that never parses a declaration.

// isQualifier reports whether w is a qualifier: accepted anywhere in a
// type and ignored.
func isQualifier(w string) bool {
	switch w {
	case "const", "volatile", "restrict", "__restrict":
		return true
	}
	return false
}

// typedef returns the type of a standard header's name for an integer
// type (LP64), or nil.
func typedef(w string) *Type {
	switch w {
	case "int8_t":
		return Int8
	case "int16_t":
		return Int16
	case "int32_t", "wchar_t":
		return Int32
	case "int64_t", "ssize_t", "ptrdiff_t", "off_t", "intptr_t", "intmax_t":
		return Int64
	case "uint8_t":
		return Uint8
	case "uint16_t":
		return Uint16
	case "uint32_t":
		return Uint32
	case "uint64_t", "size_t", "uintptr_t", "uintmax_t":
		return Uint64
	case "bool", "_Bool":
		return Bool
	}
	return nil
}

// isBaseWord reports whether w is one of the keywords C combines into
// arithmetic types.
func isBaseWord(w string) bool {
	switch w {
	case "void", "char", "short", "int", "long", "signed", "unsigned", "float", "double":
		return true
	}
	return false
}

// typ parses a type: qualifiers, a base type, then "*"s with qualifiers.
func (p *declParser) typ() (parsedType, error) {
	start := p.col()
	var words []string
	var named *Type // a typedef
	var tag string  // struct, union or enum
	var quals []string
	for {
		w := p.peek()
		switch {
		case isQualifier(w):
			if !slices.Contains(quals, w) {
				quals = append(quals, w)
			}
			p.pos++
			continue
		case isBaseWord(w) && named == nil && tag == "":
			words = append(words, w)
			p.pos++
			continue
		case typedef(w) != nil && len(words) == 0 && named == nil && tag == "":
			named = typedef(w)
			words = append(words, w)
			p.pos++
			continue
		case (w == "struct" || w == "union" || w == "enum") && len(words) == 0 && named == nil && tag == "":
			tag = w
			p.pos++
			if !isIdent(p.peek()) {
				return parsedType{}, p.errorf(p.col(), "want a tag name after %q", w)
			}
			words = append(words, w, p.peek())
			p.pos++
			continue
		}
		break
	}
	if len(words) == 0 {
		if w := p.peek(); isIdent(w) {
			return parsedType{}, p.errorf(start, "unknown type %q (want a C arithmetic type, a <stdint.h> name, or a pointer)", w)
		}
		return parsedType{}, p.errorf(start, "want a type")
	}
	stars := 0
	for p.peek() == "*" || isQualifier(p.peek()) {
		if p.peek() == "*" {
			stars++
		}
		p.pos++
	}
	spelling := strings.Join(append(quals, words...), " ")
	if stars > 0 {
		spelling += " " + strings.Repeat("*", stars)
		// Every pointer is a pointer; the text says whether it is a string.
		isChar := len(words) > 0 && words[len(words)-1] == "char"
		return parsedType{t: Pointer, cstring: stars == 1 && isChar, spelling: spelling}, nil
	}
	switch {
	case named != nil:
		return parsedType{t: named, spelling: spelling}, nil
	case tag == "enum":
		return parsedType{t: Int32, spelling: spelling}, nil
	case tag != "":
		return parsedType{}, p.errorf(start, "%s by value: its layout is not in the declaration (pass a pointer, or build the type with StructOf)", spelling)
	}
	t, err := arithmetic(words)
	if err != nil {
		return parsedType{}, p.errorf(start, "%q: %v", spelling, err)
	}
	return parsedType{t: t, spelling: spelling}, nil
}

// arithmetic maps C's keyword combinations to a type (LP64: long is 64
// bits, char is signed).
func arithmetic(words []string) (*Type, error) {
	n := map[string]int{}
	for _, w := range words {
		n[w]++
	}
	if n["signed"]+n["unsigned"] > 1 {
		return nil, fmt.Errorf("signed and unsigned together")
	}
	unsigned := n["unsigned"] == 1
	sign := n["signed"] + n["unsigned"]
	pick := func(s, u *Type) *Type {
		if unsigned {
			return u
		}
		return s
	}
	total := len(words)
	switch {
	case n["void"] == 1 && total == 1:
		return Void, nil
	case n["float"] == 1 && total == 1:
		return Float32, nil
	case n["double"] == 1 && total == 1:
		return Float64, nil
	case n["double"] == 1 && n["long"] == 1 && total == 2:
		return LongDouble, nil
	case n["char"] == 1 && total == 1+sign:
		return pick(Int8, Uint8), nil
	case n["short"] == 1 && total == 1+sign+n["int"] && n["int"] <= 1:
		return pick(Int16, Uint16), nil
	case n["long"] >= 1 && n["long"] <= 2 && total == n["long"]+sign+n["int"] && n["int"] <= 1:
		return pick(Int64, Uint64), nil
	case n["int"] == 1 && total == 1+sign:
		return pick(Int32, Uint32), nil
	case sign == 1 && total == 1:
		return pick(Int32, Uint32), nil
	}
	return nil, fmt.Errorf("not a C type")
}

// isIdent reports whether tok is an identifier that is not a keyword of
// a type.
func isIdent(tok string) bool {
	if tok == "" || isBaseWord(tok) || isQualifier(tok) || typedef(tok) != nil {
		return false
	}
	switch tok {
	case "struct", "union", "enum", "*", "(", ")", ",", "...":
		return false
	}
	return true
}

// Signature returns fd as a C type name without the function's name:
// "int (const char *, ...)".
func (fd *FuncDecl) Signature() string {
	var b strings.Builder
	b.WriteString(fd.ResultSpelling)
	b.WriteString(" (")
	for i, p := range fd.Params {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.Spelling)
	}
	if fd.Variadic {
		b.WriteString(", ...")
	}
	if len(fd.Params) == 0 && !fd.Variadic {
		b.WriteString("void")
	}
	b.WriteString(")")
	return b.String()
}
