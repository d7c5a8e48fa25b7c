package debugreg

// This file holds the description of an object that debuggers and
// profilers get, on every platform (debugreg_cgo.go registers it;
// debugreg_other.go refuses to).

// DebugSymbol is one function of an object file: Addr is relative to the
// load bias (a shared object's st_value), Size its st_size.
type DebugSymbol struct {
	Name string
	Addr uintptr
	Size uintptr
}

// DebugInfo describes a mapped object to debuggers and profilers.
type DebugInfo struct {
	// Path is the object's file, from which a debugger reads its symbols
	// and DWARF. An object without one (loaded from memory) is not shown
	// to debuggers; profiles name it after Name.
	Path string
	// Name names the object in profiles when it has no Path.
	Name string
	// Base is the load bias (the link_map's l_addr): address minus
	// virtual address in the file.
	Base uintptr
	// Dynamic is the address of its PT_DYNAMIC (l_ld), 0 when unknown.
	Dynamic uintptr
	// TextLo and TextHi bound its executable segments.
	TextLo, TextHi uintptr
	// Symbols are its functions, for profiles (nil: none).
	Symbols *SymbolTable
}
