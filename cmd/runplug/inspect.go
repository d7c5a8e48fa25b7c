package main

import (
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/fileinfo"
)

// Report is what `runplug inspect` prints: everything elfmap learned about
// a shared object and the page layout runplug would map it with. Its JSON
// form is the --json output.
type Report struct {
	File   string `json:"file"`
	Header Header `json:"header"`
	// Segments lists every program header, in file order.
	Segments []Segment `json:"segments"`
	// Mapping is the mapping plan, guard pages included, relative to the
	// load base.
	Mapping []MapRegion `json:"mapping"`
	Needed  []string    `json:"needed"`
	Soname  string      `json:"soname"`
	Runpath []string    `json:"runpath"`
	Rpath   []string    `json:"rpath"`
	Exports []Export    `json:"exports"`
	Imports []Import    `json:"imports"`
	// NeededMissing lists needed libraries inspect could not find, whose
	// symbols were therefore not checked when marking Import.Host.
	NeededMissing []string `json:"needed_missing,omitempty"`
	// Relocations counts the relocations of DT_RELA and DT_JMPREL by type
	// name. Relative relocations packed in DT_RELR are counted under
	// "RELR" (one per address they relocate), since readelf lists them
	// apart too.
	Relocations map[string]int `json:"relocations"`
	// Init is the number of constructors the loader runs: 1 for DT_INIT
	// when present plus the number of DT_INIT_ARRAY entries. Fini is the
	// same for DT_FINI and DT_FINI_ARRAY. Both agree with what readelf -d
	// shows (INIT, INIT_ARRAYSZ/8, FINI, FINI_ARRAYSZ/8).
	Init int `json:"init"`
	Fini int `json:"fini"`
	// TLS reports a PT_TLS program header: the object uses thread-local
	// storage.
	TLS bool `json:"tls"`
	// State is the persistent state region (RUNPLUG_STATE) the object
	// declares, nil when none (state.go).
	State *StateReport `json:"state,omitempty"`
}

// Header is the summary of the ELF header and the image.
type Header struct {
	Type     string `json:"type"`    // "DYN"
	Machine  string `json:"machine"` // "X86_64"
	Entry    uint64 `json:"entry"`
	Size     int64  `json:"size"` // of the file
	Phnum    int    `json:"phnum"`
	PageSize uint64 `json:"page_size"`
	// ImageStart and ImageEnd bound the image relative to the load base,
	// page-aligned; Reserved is the whole reservation with its guards.
	ImageStart uint64 `json:"image_start"`
	ImageEnd   uint64 `json:"image_end"`
	Guard      uint64 `json:"guard"`
	Reserved   uint64 `json:"reserved"`
	BindNow    bool   `json:"bind_now"`
	TextRel    bool   `json:"textrel"`
}

// Segment is one program header.
type Segment struct {
	Type   string `json:"type"` // "LOAD", "DYNAMIC", "GNU_RELRO", ...
	Offset uint64 `json:"offset"`
	Vaddr  uint64 `json:"vaddr"`
	Filesz uint64 `json:"filesz"`
	Memsz  uint64 `json:"memsz"`
	Align  uint64 `json:"align"`
	Flags  string `json:"flags"` // "R-X"
}

// MapRegion is one region of the mapping plan.
type MapRegion struct {
	Start  int64  `json:"start"` // relative to the load base; the first guard is below 0
	End    int64  `json:"end"`
	Offset uint64 `json:"offset"` // file offset (kind "file")
	Prot   string `json:"prot"`   // "r-x"
	Kind   string `json:"kind"`   // "file", "zero" or "guard"
	// Segment is the index of the PT_LOAD among the LOAD segments, -1
	// for guards and holes.
	Segment int `json:"segment"`
	// Guard says where a guard region lies: "before" or "after" the
	// image, or "hole" between two segments; empty for other kinds.
	Guard string `json:"guard,omitempty"`
}

// Export is a symbol the object defines for others.
type Export struct {
	Name  string `json:"name"`
	Value uint64 `json:"value"`
	Size  uint64 `json:"size"`
	// Kind is "func" or "object", or for the rarer symbol types "ifunc",
	// "tls", "notype", "section", "common" or "file".
	Kind    string `json:"kind"`
	Bind    string `json:"bind"` // "global", "weak", "unique"
	Version string `json:"version"`
	// Hidden marks a non-default version (name@VER rather than
	// name@@VER).
	Hidden bool `json:"hidden"`
}

// Import is a symbol the object needs from elsewhere.
type Import struct {
	Name    string `json:"name"`
	Weak    bool   `json:"weak"`
	Version string `json:"version"`
	// From is the library the version is needed from (DT_VERNEED).
	From string `json:"from,omitempty"`
	// Host marks a strong import that neither glibc's own libraries
	// nor the needed libraries define: the host must provide it (see
	// hostimports.go). Builtin: `runplug call` has it built in.
	Host    bool `json:"host"`
	Builtin bool `json:"builtin,omitempty"`
}

// runInspect is `runplug inspect`.
var inspectCommand = command{
	name:    "inspect",
	args:    "FILE",
	summary: "describe a shared object: header, segments, mapping plan, imports, exports, relocations",
	details: `FILE is parsed and planned, never mapped or run. FILE may be a name
without a slash ("libz.so.1"): unless a file of that name is in the
current directory, it is searched for as dlopen does. Imports a host must provide
(not the C library's, not runplug_log or runplug_now_ns) are marked.

Exit status: 0 success, 1 an error (FILE is not a shared object runplug can
load; one line on standard error), 2 a usage error.
`,
	run: runInspect,
}

func runInspect(args []string, stdout, stderr io.Writer) int {
	fs, level := newFlagSet("inspect")
	asJSON := fs.Bool("json", false, "print one JSON object")
	logger, err := parseFlags(fs, level, args, stdout, stderr)
	if err != nil {
		return flagExit(err)
	}
	if fs.NArg() != 1 {
		return usageError(stderr, "inspect", "want exactly one FILE")
	}
	arg := fs.Arg(0)
	path, f, err := parseObject(arg, nil)
	if err != nil {
		return fail(stderr, objectError("inspect", arg, err))
	}
	logger.Debug("inspect", "path", path)
	fh, err := os.Open(path)
	if err != nil {
		return fail(stderr, fmt.Errorf("inspect %s: %w", path, err))
	}
	rep, err := buildReport(path, f, fh, elfimage.PlanOptions{})
	fh.Close()
	if err != nil {
		return fail(stderr, fmt.Errorf("inspect %s: %w", path, err))
	}
	markHostImports(path, f, rep)
	rep.State = inspectState(path, f)
	logger.Debug("parsed", "path", path, "segments", len(rep.Segments), "exports", len(rep.Exports))
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fail(stderr, fmt.Errorf("inspect %s: %w", path, err))
		}
		return exitOK
	}
	printReport(stdout, rep)
	return exitOK
}

// parseObject finds the object a FILE|NAME argument designates
// (findObject: a path, or a name searched for as ld.so does) and parses it.
// inspect and call both start with it, so that they word every failure the
// same way.
func parseObject(arg string, dirs []string) (string, *elfimage.File, error) {
	path, err := findObject(arg, dirs)
	if err != nil {
		return "", nil, err
	}
	f, err := parseFile(path)
	if err != nil {
		return path, nil, asNotObject(path, err)
	}
	return path, f, nil
}

// objectError words an error of parseObject for command cmd: a
// *notObjectError says so first, anything else is prefixed with the
// command and FILE.
func objectError(cmd, arg string, err error) error {
	var ne *notObjectError
	if errors.As(err, &ne) {
		return err
	}
	return fmt.Errorf("%s %s: %w", cmd, arg, err)
}

// parseFile opens and parses the shared object at path, with its symbols
// decoded (elfimage.Parse). Errors read "open: ..." or "elfmap: ...": the
// caller names the file.
func parseFile(path string) (*elfimage.File, error) {
	fh, size, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return elfimage.Parse(fh, size)
}

// checkObject finds and parses the object a FILE|NAME argument designates
// as parseObject does (and words its failures the same way), through the loader's cache of parsed files
// (fileinfo.ParseOpen): the load that follows does not parse it again.
func checkObject(arg string, dirs []string) (string, error) {
	path, err := findObject(arg, dirs)
	if err != nil {
		return "", err
	}
	if err := parseCached(path); err != nil {
		return path, asNotObject(path, err)
	}
	return path, nil
}

// parseCached parses the object at path through the loader's cache of
// parsed files (fileinfo.ParseOpen, in place: headers and dynamic tables,
// no symbol copied), so that a later load of it parses nothing again.
func parseCached(path string) error {
	fh, _, err := openRegular(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	_, err = fileinfo.ParseOpen(fh)
	return err
}

// openRegular opens the regular file at path and returns it with its size.
func openRegular(path string) (*os.File, int64, error) {
	fh, err := os.Open(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, 0, fmt.Errorf("open: %w", err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, 0, fmt.Errorf("stat: %w", err)
	}
	switch {
	case st.IsDir():
		fh.Close()
		return nil, 0, fmt.Errorf("is a directory: %w", errNotRegular)
	case !st.Mode().IsRegular():
		fh.Close()
		return nil, 0, errNotRegular
	}
	return fh, st.Size(), nil
}

// buildReport describes f (parsed from r, the file named name) and its
// mapping plan under opt.
func buildReport(name string, f *elfimage.File, r io.ReaderAt, opt elfimage.PlanOptions) (*Report, error) {
	plan, err := elfimage.NewPlan(f, opt)
	if err != nil {
		return nil, err
	}
	rs, err := f.ReadRelocs(r)
	if err != nil {
		return nil, err
	}
	rep := &Report{
		File: name,
		Header: Header{
			Type:       strings.TrimPrefix(f.Type.String(), "ET_"),
			Machine:    strings.TrimPrefix(f.Machine.String(), "EM_"),
			Entry:      f.Entry,
			Size:       f.Size,
			Phnum:      len(f.Progs),
			PageSize:   plan.PageSize,
			ImageStart: plan.MinVaddr,
			ImageEnd:   plan.MaxVaddr,
			Guard:      plan.Guard,
			Reserved:   plan.Size,
		},
		Segments:    []Segment{},
		Mapping:     []MapRegion{},
		Needed:      []string{},
		Runpath:     []string{},
		Rpath:       []string{},
		Exports:     []Export{},
		Imports:     []Import{},
		Relocations: map[string]int{},
		TLS:         f.TLS != nil,
	}
	for _, p := range f.Progs {
		rep.Segments = append(rep.Segments, Segment{
			Type:   progTypeName(p.Type),
			Offset: p.Off,
			Vaddr:  p.Vaddr,
			Filesz: p.Filesz,
			Memsz:  p.Memsz,
			Align:  p.Align,
			Flags:  progFlags(p.Flags),
		})
	}
	for _, r := range plan.Regions {
		m := MapRegion{
			Start:   r.Start,
			End:     r.End,
			Offset:  r.Offset,
			Prot:    elfimage.ProtString(r.Prot),
			Kind:    r.Kind.String(),
			Segment: r.Segment,
		}
		if r.Kind == elfimage.RegionGuard {
			switch {
			case r.Before:
				m.Guard = "before"
			case plan.IsGap(r):
				m.Guard = "hole"
			default:
				m.Guard = "after"
			}
		}
		rep.Mapping = append(rep.Mapping, m)
	}
	d := f.Dynamic
	if d == nil {
		return rep, nil
	}
	rep.Header.BindNow = d.BindNow
	rep.Header.TextRel = d.TextRel
	rep.Needed = append(rep.Needed, d.Needed...)
	rep.Soname = d.Soname
	rep.Runpath = append(rep.Runpath, d.Runpath...)
	rep.Rpath = append(rep.Rpath, d.Rpath...)
	for i := 1; i < len(d.Symbols); i++ {
		s := &d.Symbols[i]
		if s.Name == "" {
			continue
		}
		switch {
		case s.Shndx == elf.SHN_UNDEF:
			rep.Imports = append(rep.Imports, Import{
				Name:    s.Name,
				Weak:    s.Bind == elf.STB_WEAK,
				Version: s.Version,
				From:    s.VersionFile,
			})
		case s.Defined() && s.Bind != elf.STB_LOCAL:
			rep.Exports = append(rep.Exports, Export{
				Name:    s.Name,
				Value:   s.Value,
				Size:    s.Size,
				Kind:    symKind(s.Type),
				Bind:    symBind(s.Bind),
				Version: s.Version,
				Hidden:  s.Hidden,
			})
		}
	}
	sort.SliceStable(rep.Exports, func(i, j int) bool { return rep.Exports[i].Name < rep.Exports[j].Name })
	sort.SliceStable(rep.Imports, func(i, j int) bool { return rep.Imports[i].Name < rep.Imports[j].Name })
	for _, tab := range [][]elfimage.Rela{rs.Rela, rs.JmpRel} {
		for _, r := range tab {
			rep.Relocations[relocName(f.Machine, r.Type)]++
		}
	}
	if n := relrCount(rs.Relr); n > 0 {
		rep.Relocations["RELR"] = n
	}
	if d.Init != 0 {
		rep.Init++
	}
	rep.Init += int(d.InitArrayLen)
	if d.Fini != 0 {
		rep.Fini++
	}
	rep.Fini += int(d.FiniArrayLen)
	return rep, nil
}

// relrCount returns how many addresses a DT_RELR table relocates: an even
// entry names one address, an odd entry is a bitmap of the 63 words after
// the previous address whose set bits (above bit 0) each name one more.
func relrCount(relr []uint64) int {
	n := 0
	for _, e := range relr {
		if e&1 == 0 {
			n++
			continue
		}
		for b := e >> 1; b != 0; b &= b - 1 {
			n++
		}
	}
	return n
}

// progTypeName names a program header type the way readelf -l does:
// "LOAD", "DYNAMIC", "GNU_RELRO" (debug/elf's name without "PT_"), or the
// number in hex when debug/elf knows none.
func progTypeName(t elf.ProgType) string {
	if s, ok := strings.CutPrefix(t.String(), "PT_"); ok && !strings.Contains(s, "+") {
		return s
	}
	return fmt.Sprintf("%#x", uint32(t))
}

// progFlags formats p_flags as "R-X", "RW-", ... .
func progFlags(fl elf.ProgFlag) string {
	b := []byte("---")
	if fl&elf.PF_R != 0 {
		b[0] = 'R'
	}
	if fl&elf.PF_W != 0 {
		b[1] = 'W'
	}
	if fl&elf.PF_X != 0 {
		b[2] = 'X'
	}
	return string(b)
}

// symKind names a symbol type for Export.Kind: debug/elf's name, lower
// case, without "STT_" ("func", "object", "tls"; "ifunc" for
// STT_GNU_IFUNC), or "typeN" when debug/elf knows none.
func symKind(t elf.SymType) string {
	s, ok := strings.CutPrefix(t.String(), "STT_")
	if !ok || strings.Contains(s, "+") || strings.HasPrefix(s, "LO") || strings.HasPrefix(s, "HI") {
		return fmt.Sprintf("type%d", int(t))
	}
	return strings.ToLower(strings.TrimPrefix(s, "GNU_"))
}

// symBind names a symbol binding for Export.Bind: debug/elf's name, lower
// case, without "STB_" ("global", "weak", "local"), "unique" for
// STB_GNU_UNIQUE (10, which debug/elf calls STB_LOOS), or "bindN".
func symBind(b elf.SymBind) string {
	const stbGNUUnique = 10
	if b == stbGNUUnique {
		return "unique"
	}
	s, ok := strings.CutPrefix(b.String(), "STB_")
	if !ok || strings.Contains(s, "+") || strings.HasPrefix(s, "LO") || strings.HasPrefix(s, "HI") {
		return fmt.Sprintf("bind%d", int(b))
	}
	return strings.ToLower(s)
}

// relocName names a relocation type of machine m as the psABI and readelf
// do: "R_X86_64_RELATIVE", "R_X86_64_JUMP_SLOT".
func relocName(m elf.Machine, t uint32) string {
	var s string
	switch m {
	case elf.EM_X86_64:
		s = elf.R_X86_64(t).String()
		if elf.R_X86_64(t) == elf.R_X86_64_JMP_SLOT {
			// debug/elf's name; the psABI and readelf say JUMP_SLOT.
			s = "R_X86_64_JUMP_SLOT"
		}
	case elf.EM_AARCH64:
		s = elf.R_AARCH64(t).String()
	}
	if strings.HasPrefix(s, "R_") {
		return s
	}
	return fmt.Sprintf("unknown(%d)", t)
}

// printReport writes rep as aligned tables.
func printReport(w io.Writer, rep *Report) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	defer tw.Flush()
	h := rep.Header
	fmt.Fprintf(tw, "file:\t%s (%d bytes)\n", rep.File, h.Size)
	fmt.Fprintf(tw, "type:\t%s, %s, entry %#x, %d program headers\n", h.Type, h.Machine, h.Entry, h.Phnum)
	fmt.Fprintf(tw, "image:\t[%#x, %#x), %d bytes; reservation %d bytes with %d-byte guards; page size %d\n",
		h.ImageStart, h.ImageEnd, h.ImageEnd-h.ImageStart, h.Reserved, h.Guard, h.PageSize)
	fmt.Fprintf(tw, "soname:\t%s\n", orNone(rep.Soname))
	fmt.Fprintf(tw, "needed:\t%s\n", orNone(strings.Join(rep.Needed, ", ")))
	fmt.Fprintf(tw, "runpath:\t%s\n", orNone(strings.Join(rep.Runpath, ":")))
	if len(rep.Rpath) > 0 {
		fmt.Fprintf(tw, "rpath:\t%s\n", strings.Join(rep.Rpath, ":"))
	}
	fmt.Fprintf(tw, "init/fini:\t%d constructors, %d destructors (DT_INIT + INIT_ARRAY, DT_FINI + FINI_ARRAY)\n", rep.Init, rep.Fini)
	fmt.Fprintf(tw, "tls:\t%s\n", yesNo(rep.TLS))
	fmt.Fprintf(tw, "state:\t%s\n", stateLabel(rep.State))
	fmt.Fprintf(tw, "bind now:\t%s\n", yesNo(h.BindNow))
	tw.Flush()

	fmt.Fprintf(w, "\nprogram headers (%d):\n", len(rep.Segments))
	fmt.Fprintln(tw, "  TYPE\tOFFSET\tVADDR\tFILESZ\tMEMSZ\tALIGN\tFLAGS")
	for _, s := range rep.Segments {
		fmt.Fprintf(tw, "  %s\t%#x\t%#x\t%#x\t%#x\t%#x\t%s\n", s.Type, s.Offset, s.Vaddr, s.Filesz, s.Memsz, s.Align, s.Flags)
	}
	tw.Flush()

	fmt.Fprintf(w, "\nmapping plan (relative to the load base):\n")
	fmt.Fprintln(tw, "  START\tEND\tSIZE\tPROT\tKIND\tFILE OFFSET")
	for _, r := range rep.Mapping {
		fmt.Fprintf(tw, "  %s\t%s\t%#x\t%s\t%s\t%s\n", signedHex(r.Start), signedHex(r.End), r.End-r.Start, r.Prot, regionLabel(r), offsetLabel(r))
	}
	tw.Flush()

	fmt.Fprintf(w, "\nexports (%d):\n", len(rep.Exports))
	if len(rep.Exports) > 0 {
		fmt.Fprintln(tw, "  NAME\tVALUE\tSIZE\tKIND\tBIND\tVERSION")
		for _, e := range rep.Exports {
			fmt.Fprintf(tw, "  %s\t%#x\t%d\t%s\t%s\t%s\n", e.Name, e.Value, e.Size, e.Kind, e.Bind, versionLabel(e.Version, e.Hidden))
		}
		tw.Flush()
	}

	fmt.Fprintf(w, "\nimports (%d):\n", len(rep.Imports))
	if len(rep.Imports) > 0 {
		fmt.Fprintln(tw, "  NAME\tWEAK\tVERSION")
		for _, im := range rep.Imports {
			v := im.Version
			if v != "" && im.From != "" {
				v += " (" + im.From + ")"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", im.Name, yesNo(im.Weak), orDash(v))
		}
		tw.Flush()
	}
	printHostImports(w, rep)

	names := make([]string, 0, len(rep.Relocations))
	total := 0
	for n, c := range rep.Relocations {
		names = append(names, n)
		total += c
	}
	sort.Strings(names)
	fmt.Fprintf(w, "\nrelocations (%d):\n", total)
	for _, n := range names {
		fmt.Fprintf(tw, "  %s\t%d\n", n, rep.Relocations[n])
	}
	tw.Flush()
}

func regionLabel(r MapRegion) string {
	if r.Kind == "guard" {
		return "guard (" + r.Guard + ")"
	}
	return fmt.Sprintf("%s (LOAD %d)", r.Kind, r.Segment)
}

func offsetLabel(r MapRegion) string {
	if r.Kind != "file" {
		return "-"
	}
	return fmt.Sprintf("%#x", r.Offset)
}

func signedHex(v int64) string {
	if v < 0 {
		return fmt.Sprintf("-%#x", uint64(-v))
	}
	return fmt.Sprintf("%#x", v)
}

func versionLabel(v string, hidden bool) string {
	switch {
	case v == "":
		return "-"
	case hidden:
		return "@" + v
	}
	return "@@" + v
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
