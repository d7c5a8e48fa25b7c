package main

import (
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"

	"github.com/runplug/runplug/abi"
)

// `runplug call` without --sig reads SYMBOL's declaration from FILE's DWARF
// when FILE was built with -g, so that a plugin's author gets converted and
// checked arguments without writing the declaration again. Go's debug/elf
// and debug/dwarf are not hardened against hostile input: their panics are
// recovered here and the walk is bounded, and any failure only means "no
// declaration" (the call proceeds as without one).

// maxDWARFEntries bounds the entries dwarfDecl reads: a plugin's own
// compilation units are far smaller; a file with more is not searched to
// the end.
const maxDWARFEntries = 1 << 20

// dwarfDecl returns the declaration of the external function symbol from
// the DWARF of the ELF file at path, or nil when the file has no DWARF, no
// entry for symbol, or one whose types call cannot pass (then why says
// which).
func dwarfDecl(path, symbol string) (fd *abi.FuncDecl, why string) {
	defer func() {
		if r := recover(); r != nil {
			fd, why = nil, fmt.Sprintf("unreadable DWARF: %v", r)
		}
	}()
	f, err := elf.Open(path)
	if err != nil {
		return nil, ""
	}
	defer f.Close()
	if f.Section(".debug_info") == nil {
		return nil, ""
	}
	d, err := f.DWARF()
	if err != nil {
		return nil, fmt.Sprintf("unreadable DWARF: %v", err)
	}
	r := d.Reader()
	for n := 0; n < maxDWARFEntries; n++ {
		e, err := r.Next()
		if err != nil {
			return nil, fmt.Sprintf("unreadable DWARF: %v", err)
		}
		if e == nil {
			return nil, ""
		}
		if e.Tag != dwarf.TagSubprogram {
			continue
		}
		name, _ := e.Val(dwarf.AttrName).(string)
		ext, _ := e.Val(dwarf.AttrExternal).(bool)
		decl, _ := e.Val(dwarf.AttrDeclaration).(bool)
		if name != symbol || !ext || decl {
			if e.Children {
				r.SkipChildren()
			}
			continue
		}
		fd, err := subprogramDecl(d, r, e)
		if err != nil {
			return nil, fmt.Sprintf("DWARF declaration of %s: %v", symbol, err)
		}
		fd.Name = symbol
		return fd, ""
	}
	return nil, ""
}

// subprogramDecl reads a DW_TAG_subprogram entry e and its children
// (the reader r stands after e).
func subprogramDecl(d *dwarf.Data, r *dwarf.Reader, e *dwarf.Entry) (*abi.FuncDecl, error) {
	if proto, _ := e.Val(dwarf.AttrPrototyped).(bool); !proto {
		return nil, errors.New("not prototyped (K&R)")
	}
	fd := &abi.FuncDecl{Result: abi.Void, ResultSpelling: "void"}
	if off, ok := e.Val(dwarf.AttrType).(dwarf.Offset); ok {
		p, err := dwarfParam(d, off)
		if err != nil {
			return nil, fmt.Errorf("result: %w", err)
		}
		fd.Result, fd.ResultSpelling, fd.CStringResult = p.Type, p.Spelling, p.CString
	}
	if !e.Children {
		return fd, nil
	}
	for depth := 1; depth > 0; {
		c, err := r.Next()
		if err != nil {
			return nil, err
		}
		if c == nil {
			return nil, errors.New("children not terminated")
		}
		switch {
		case c.Tag == 0:
			depth--
			continue
		case depth == 1 && c.Tag == dwarf.TagFormalParameter:
			off, ok := c.Val(dwarf.AttrType).(dwarf.Offset)
			if !ok {
				return nil, fmt.Errorf("parameter %d has no type", len(fd.Params)+1)
			}
			p, err := dwarfParam(d, off)
			if err != nil {
				return nil, fmt.Errorf("parameter %d: %w", len(fd.Params)+1, err)
			}
			p.Name, _ = c.Val(dwarf.AttrName).(string)
			fd.Params = append(fd.Params, p)
		case depth == 1 && c.Tag == dwarf.TagUnspecifiedParameters:
			fd.Variadic = true
		}
		if c.Children {
			depth++
		}
	}
	return fd, nil
}

// dwarfParam maps the DWARF type at off to the abi type call passes.
func dwarfParam(d *dwarf.Data, off dwarf.Offset) (abi.Param, error) {
	t, err := d.Type(off)
	if err != nil {
		return abi.Param{}, err
	}
	spelling := t.String()
	for { // typedefs and qualifiers name the same type
		switch u := t.(type) {
		case *dwarf.TypedefType:
			t = u.Type
			continue
		case *dwarf.QualType:
			t = u.Type
			continue
		}
		break
	}
	p := abi.Param{Spelling: spelling}
	size := t.Size()
	switch u := t.(type) {
	case *dwarf.PtrType:
		p.Type = abi.Pointer
		pointee := u.Type
		for {
			if q, ok := pointee.(*dwarf.QualType); ok {
				pointee = q.Type
				continue
			}
			break
		}
		switch pointee.(type) {
		case *dwarf.CharType, *dwarf.UcharType:
			p.CString = true
		}
	case *dwarf.FloatType:
		switch size {
		case 4:
			p.Type = abi.Float32
		case 8:
			p.Type = abi.Float64
		case 16:
			p.Type = abi.LongDouble
		}
	case *dwarf.BoolType:
		p.Type = abi.Bool
	case *dwarf.IntType, *dwarf.CharType, *dwarf.EnumType:
		p.Type = intOfSize(size, true)
	case *dwarf.UintType, *dwarf.UcharType:
		p.Type = intOfSize(size, false)
	case *dwarf.VoidType:
		p.Type = abi.Void
	}
	if p.Type == nil {
		return abi.Param{}, fmt.Errorf("%s: a type call cannot pass (give --sig)", spelling)
	}
	return p, nil
}

// intOfSize is the integer type of size bytes, or nil.
func intOfSize(size int64, signed bool) *abi.Type {
	s := map[int64][2]*abi.Type{1: {abi.Int8, abi.Uint8}, 2: {abi.Int16, abi.Uint16}, 4: {abi.Int32, abi.Uint32}, 8: {abi.Int64, abi.Uint64}}[size]
	if signed {
		return s[0]
	}
	return s[1]
}
